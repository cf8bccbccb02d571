"""This session's own state: which run the Train page watches, and a message for the next script run."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

WATCHED = "watched_run"  # the run the Train & watch page shows


def watch(path: str | Path) -> None:
    """Make the Train & watch page show `path` (after Start): a new run selector carries the choice."""
    st.session_state[WATCHED] = str(path)
    st.session_state["watch_epoch"] = st.session_state.get("watch_epoch", 0) + 1


def run_select_key() -> str:
    """Key of the Train & watch run selector: live_run, then live_run_1, live_run_2... after each watch()."""
    n = st.session_state.get("watch_epoch", 0)
    return f"live_run_{n}" if n else "live_run"


def flash(message: str, kind: str = "info") -> None:
    """A message shown once on the next run (from button callbacks)."""
    st.session_state["_flash"] = (kind, message)


def show_flash() -> None:
    kind, message = st.session_state.pop("_flash", (None, None))
    if message:
        {"error": st.error, "warning": st.warning, "success": st.success}.get(kind, st.info)(message)
