"""The watched run's Pause / Resume / Stop / Continue buttons and the trainer's run-level warnings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import streamlit as st

from core import launcher
from core.errors import TAAFError
from studio.ui import runlist, session, text


def _send(cmd: str, path: str) -> None:
    try:
        if cmd == "resume_interrupted":
            launcher.resume_interrupted(path)
            runlist.run_table.clear()
        else:
            getattr(launcher, cmd)(path)
        session.flash(text.plain(f"{cmd.replace('_', ' ')} sent to {Path(path).name}"), "info")
    except (TAAFError, OSError) as e:
        name = Path(path).name
        if not _writable(Path(path)):  # the store then reads as "corrupt": say what is wrong instead
            session.flash(text.plain(f"{cmd.replace('_', ' ')} failed: the run folder {name} is read-only "
                                     "(the studio sends commands by writing to its store)"), "error")
        else:
            session.flash(text.plain(f"{cmd.replace('_', ' ')} failed: {e}"), "error")


def _writable(run: Path) -> bool:
    return all(os.access(p, os.W_OK) for p in (run, run / "store.sqlite") if p.exists())


def run_buttons(path: str, status: str, meta: dict[str, Any], step: int) -> None:
    """Pause / Resume / Stop / Continue for the watched run, as its status allows (one Stop, always ours), and the
    trainer's run-level warnings (loss not falling, ...)."""
    for warning in meta.get("warnings") or []:
        st.warning(text.plain(warning), icon=":material/warning:")  # written by the run: text, not markdown
    cols = st.columns([1, 1, 1, 4])
    if status == "running":
        cols[0].button("Pause", icon=":material/pause:", on_click=_send, args=("pause", path), key="pause",
                       width="stretch")
    if status == "paused":
        cols[0].button("Resume", icon=":material/play_arrow:", on_click=_send, args=("resume", path), key="resume",
                       width="stretch")
    if status in ("running", "paused"):
        cols[1].button("Stop", icon=":material/stop:", on_click=_send, args=("stop", path), key="stop",
                       width="stretch")
    if status in ("interrupted", "stopped", "failed"):  # a failed run continues from its last checkpoint
        word = "Resume" if status == "interrupted" else "Continue"
        note = launcher.continue_note(meta.get("checkpoint"), step)
        cols[0].button(word, icon=":material/restart_alt:", on_click=_send, args=("resume_interrupted", path),
                       key="resume_int", width="stretch",
                       help=text.plain(f"python -m core.train --resume; it {note}"))
        cols[3].caption(f"**{word}** {text.plain(note)}.")
