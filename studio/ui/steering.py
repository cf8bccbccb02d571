"""The Train page's steering form (a live run's lr, beta, balance and training-batch corruption) and Replay's jump
from one steering event to the next. What may change and its ranges: core/steering.py."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core.errors import TAAFError
from core.steering import BALANCED, CORRUPTION_NOTE, STEERABLE, events_frame, request
from studio.ui import session


def _send(path: str, changes: dict[str, Any]) -> None:
    """Send every changed setting; the first refusal is shown and stops the rest (each is checked on its own)."""
    sent = []
    try:
        for key, value in changes.items():
            request(path, key, value, source="studio")
            sent.append(key)
    except TAAFError as e:
        session.flash(f"steering refused: {e}", "error")
        return
    if sent:
        session.flash(f"sent to {Path(path).name}: {', '.join(sent)} (applies at the next step boundary)", "info")


def steering_form(path: str, status: str, config: dict[str, Any], events: pd.DataFrame | None) -> None:
    """A small form for a running or paused run; only the values the user changed are sent."""
    if status not in ("running", "paused"):
        return
    strategy = str(config.get("strategy", {}).get("name", ""))
    now = _current(config, events)
    with st.expander("Steer this run", icon=":material/tune:"):
        with st.form(f"steer-{Path(path).name}", border=False):
            c = st.columns(3)
            lr = c[0].number_input("learning rate (optim.lr)", min_value=1e-7, max_value=1e3,
                                   value=max(now["optim.lr"], 1e-7), format="%.6f", help=STEERABLE["optim.lr"].help)
            scale_a = c[1].number_input("audio lr factor", 0.0, 100.0, now["lr_scale.a"], step=0.1,
                                        help=STEERABLE["lr_scale.a"].help)
            scale_v = c[2].number_input("visual lr factor", 0.0, 100.0, now["lr_scale.v"], step=0.1,
                                        help=STEERABLE["lr_scale.v"].help)
            values = {"optim.lr": lr, "lr_scale.a": scale_a, "lr_scale.v": scale_v}
            if strategy in BALANCED:
                c = st.columns(3)
                values["strategy.beta"] = c[0].number_input("β (balance strength)", 0.0, 1e6,
                                                            float(now["strategy.beta"]), step=0.5,
                                                            help=STEERABLE["strategy.beta"].help)
                values["strategy.balance"] = c[1].toggle("balance on", bool(now["strategy.balance"]),
                                                         help=STEERABLE["strategy.balance"].help)
            c = st.columns(3)
            snr = c[0].number_input("audio SNR dB (empty = clean)", -30.0, 200.0,
                                    None if math.isinf(now["corrupt.audio_snr_db"]) else now["corrupt.audio_snr_db"],
                                    help=STEERABLE["corrupt.audio_snr_db"].help)
            values["corrupt.audio_snr_db"] = math.inf if snr is None else snr
            values["corrupt.visual_noise"] = c[1].number_input("visual noise std", 0.0, 10.0,
                                                               float(now["corrupt.visual_noise"]), step=0.05,
                                                               help=STEERABLE["corrupt.visual_noise"].help)
            drop = c[2].selectbox("drop a modality", ["none", "audio", "visual"])
            steps = c[2].number_input("for N steps", 1, 1_000_000, 50)
            st.caption(CORRUPTION_NOTE + (" The run is paused: changes apply when it resumes."
                                          if status == "paused" else ""))
            if st.form_submit_button("Apply at the next step", icon=":material/send:"):
                changes = {k: v for k, v in values.items() if v != now[k]}
                if drop != "none":
                    changes[f"corrupt.drop_{drop}"] = int(steps)
                _send(path, changes)
                st.rerun()


def _current(config: dict[str, Any], events: pd.DataFrame | None) -> dict[str, Any]:
    """Each setting as the run's config and its events so far leave it (what the form starts from)."""
    now: dict[str, Any] = {"optim.lr": float(config.get("optim", {}).get("lr", 0.003)), "lr_scale.a": 1.0,
                           "lr_scale.v": 1.0, "strategy.beta": float(config.get("strategy", {}).get("beta", 1.0)),
                           "strategy.balance": config.get("strategy", {}).get("name") == "taaf" or
                           config.get("strategy", {}).get("name") == "taaf-uniform",
                           "corrupt.audio_snr_db": math.inf, "corrupt.visual_noise": 0.0}
    if events is not None:
        for ev in events.itertuples(index=False):
            if ev.key in now:
                now[ev.key] = ev.new
    return now


@st.cache_data(max_entries=64, ttl=120, show_spinner=False)
def run_events(path: str, updated: float) -> pd.DataFrame:
    """One run's steering events (`updated` in the key refreshes a live run's)."""
    from studio.ui.runlist import reader

    with reader(path) as r:
        return events_frame(r.events())


def compare_events(paths: dict[str, str], updated: dict[str, float]) -> pd.DataFrame:
    """The chosen runs' steering events, each row with its run's name (Compare marks them on its step axis)."""
    frames = []
    for name, path in paths.items():
        try:
            frames.append(run_events(path, updated[name]).assign(run=name))
        except TAAFError:
            continue
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def event_jumps(events: pd.DataFrame | None, marks: list[int], state_key: str) -> None:
    """Replay: ◀ / ▶ to the first recorded step after the previous / next steering event (where it shows)."""
    if events is None or len(events) == 0 or not marks:
        return
    targets = sorted({next((m for m in marks if m > int(s)), marks[-1]) for s in events["step"]})

    def jump(forward: bool) -> None:
        now = st.session_state.get(state_key, marks[-1])
        ahead = [t for t in targets if (t > now if forward else t < now)]
        if ahead:
            st.session_state[state_key] = ahead[0] if forward else ahead[-1]

    c = st.columns([1, 1, 5])
    c[0].button("◀ event", on_click=jump, args=(False,), key=f"{state_key}-prev-event", width="stretch")
    c[1].button("event ▶", on_click=jump, args=(True,), key=f"{state_key}-next-event", width="stretch")
    c[2].caption(f"{len(events)} steering event(s): "
                 + ", ".join(f"step {int(s)} {k}" for s, k in zip(events["step"], events["key"], strict=True))[:300])
