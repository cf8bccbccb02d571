"""The Train page's sidebar: the settings of a new run and its Start button."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import streamlit as st

from core import launcher
from core.config import ENUMS, load_config
from core.errors import TAAFError
from studio.settings import REPO_ROOT, runs_dir
from studio.ui import runlist, session, text
from studio.ui.text import one_line

DATASETS = {"avdigits": "AV-Digits (bundled)", "cremad": "CREMA-D (folder)", "ave": "AVE (folder)"}
KNOB_UI: dict[str, tuple[float, float, float]] = {  # slider min, max, step (the config accepts wider ranges)
    "audio_snr_db": (-30.0, 30.0, 1.0),
    "audio_dropout": (0.0, 1.0, 0.05),
    "visual_noise": (0.0, 16.0, 0.5),
    "occlusion": (0, 8, 1),
    "visual_dropout": (0.0, 1.0, 0.05),
}


def config_path(dataset: str, strategy: str) -> Path | None:
    """The shipped config of this dataset and strategy (configs/<strategy>.toml for AV-Digits,
    configs/<dataset>-<strategy>.toml otherwise), else that dataset's TAAF config, else configs/taaf.toml."""
    prefix = "" if dataset == "avdigits" else f"{dataset}-"
    for name in (f"{prefix}{strategy}", f"{prefix}taaf", "taaf"):
        p = REPO_ROOT / "configs" / f"{name}.toml"
        if p.is_file():
            return p
    return None


RUN_PRESETS = {"taaf": "T = 4 (the default)", "taaf-t16": "T = 16 (watch neurons integrate and fire)"}


def _run_preset(name: str) -> dict[str, Any]:
    """A run preset (configs/<name>.toml) as overrides: its model, train and record settings that differ from
    configs/taaf.toml, so it applies over any strategy's config."""
    base, cfg = load_config(config_path("avdigits", "taaf")), load_config(REPO_ROOT / "configs" / f"{name}.toml")
    return {f"{sec}.{k}": v for sec in ("model", "train", "record") for k, v in cfg[sec].items() if v != base[sec][k]}


def _base_config(dataset: str) -> dict[str, Any]:
    """Defaults of the sidebar's fields: the dataset's TAAF config."""
    try:
        return load_config(config_path(dataset, "taaf"))
    except TAAFError:
        return load_config(None)


def _presets() -> Any:
    from core.data import presets  # lazy: core.data imports torch (about a second)

    return presets


def _preset_knobs(preset: str) -> dict[str, Any]:
    p = _presets()
    return {**{k: spec["default"] for k, spec in p.KNOBS.items()}, **p.PRESETS.get(preset, {})}


def _load_preset() -> None:
    """On preset change: put that preset's knob values into the knob widgets."""
    for k, v in _preset_knobs(st.session_state["cfg_preset"]).items():
        if k == "audio_snr_db":
            st.session_state["knob_snr_on"] = math.isfinite(v)
            st.session_state["knob_audio_snr_db"] = float(v) if math.isfinite(v) else 10.0
        else:
            st.session_state[f"knob_{k}"] = v


def _knobs(preset: str) -> dict[str, Any]:
    """Knob widgets; returns only the knobs that differ from the preset (the config's degrade table)."""
    if "knob_visual_noise" not in st.session_state:
        _load_preset()
    knobs = _presets().KNOBS
    on = st.checkbox("audio noise", key="knob_snr_on", help=knobs["audio_snr_db"]["help"])
    lo, hi, step = KNOB_UI["audio_snr_db"]
    snr = st.slider("audio SNR (dB)", lo, hi, step=step, key="knob_audio_snr_db", disabled=not on)
    values: dict[str, Any] = {"audio_snr_db": snr if on else math.inf}
    for k in ("audio_dropout", "visual_noise", "occlusion", "visual_dropout"):
        lo, hi, step = KNOB_UI[k]
        values[k] = st.slider(k.replace("_", " "), lo, hi, step=step, key=f"knob_{k}", help=knobs[k]["help"])
    base = _preset_knobs(preset)
    changed = {k: v for k, v in values.items() if v != base[k]}
    return {k: ("off" if isinstance(v, float) and math.isinf(v) else v) for k, v in changed.items()}


def sidebar() -> None:
    """Settings of a new run and the Start button (one click with defaults)."""
    sb = st.sidebar
    sb.header("New run")
    # The button first: below the settings it was under the fold at 1440 x 900. It starts the settings below
    # as the last rerun left them (every widget change reruns the page, which rewrites _overrides).
    sb.button("Start training", icon=":material/play_arrow:", type="primary", on_click=_start, key="start",
              width="stretch", help="with the settings below (each has a default: one click trains TAAF)")
    with sb:
        ds = st.selectbox("dataset", list(DATASETS), format_func=DATASETS.get, key="cfg_dataset")
        cfg = _base_config(ds)
        over: dict[str, Any] = {"data.dataset": ds}
        if ds == "avdigits":
            presets, preset_help = list(_presets().PRESETS), _presets().PRESET_HELP
            st.selectbox("imbalance preset", presets, key="cfg_preset", on_change=_load_preset,
                         index=presets.index(cfg["data"]["avdigits"]["preset"]),
                         help="; ".join(f"**{k}**: {v}" for k, v in preset_help.items()))
            preset = st.session_state["cfg_preset"]
            st.caption(preset_help.get(preset, ""))
            with st.expander("preset knobs"):
                degrade = _knobs(preset)
            over["data.avdigits.preset"] = preset
            over["data.avdigits.degrade"] = degrade  # replaces the config file's table
            run = st.selectbox("run preset", list(RUN_PRESETS), format_func=RUN_PRESETS.get, key="cfg_run")
            over.update(_run_preset(run))
        else:
            over["data.path"] = st.text_input("dataset folder", cfg["data"]["path"], key=f"cfg_path_{ds}",
                                              help="the folder holding your copy (docs/datasets.md); "
                                                   "check it first with python -m core.data check")
        strategies = list(ENUMS["strategy.name"])
        strategy = st.selectbox("strategy", strategies, key="cfg_strategy",
                                index=strategies.index(cfg["strategy"]["name"]))
        c1, c2 = st.columns(2)
        over["strategy.name"] = strategy
        # Keys carry the dataset: switching it brings that dataset's defaults (CREMA-D: SGD, 100 epochs).
        tk = ds if over.get("model.T") is None else f"{ds}_T{over['model.T']}"  # a run preset brings its T, epochs
        over["model.T"] = c1.number_input("timesteps T", 1, 64, int(over.get("model.T", cfg["model"]["T"])),
                                          key=f"cfg_T_{tk}")
        over["train.epochs"] = c2.number_input("epochs", 1, 1000, int(over.get("train.epochs", cfg["train"]["epochs"])),
                                               key=f"cfg_epochs_{tk}")
        over["optim.lr"] = c1.number_input("learning rate", 1e-6, 1.0, float(cfg["optim"]["lr"]), format="%.4f",
                                           step=1e-4, key=f"cfg_lr_{ds}")
        over["strategy.beta"] = c2.number_input("β (balance)", 0.0, 10.0, float(cfg["strategy"]["beta"]), step=0.1,
                                                key=f"cfg_beta_{ds}")
        over["train.seed"] = c1.number_input("seed", 0, 2**31 - 1, int(cfg["train"]["seed"]), key=f"cfg_seed_{ds}")
        st.session_state["_overrides"] = over


def _start() -> None:
    over = dict(st.session_state.get("_overrides", {}))
    if over.get("data.dataset") != "avdigits" and not over.get("data.path"):
        session.flash("Enter the dataset folder first (data.path).", "error")
        return
    try:
        run_dir = launcher.start_run(runs_dir(), config_path(over["data.dataset"], over["strategy.name"]), over)
    except TAAFError as e:
        session.flash(text.plain(f"Not started: {e}"), "error")
        return
    except OSError as e:  # a read-only or full runs folder: one line naming it, not a traceback
        session.flash(text.plain(f"Not started: the runs folder {runs_dir()} cannot be written "
                                 f"({e.strerror or one_line(e)})"), "error")
        return
    runlist.run_table.clear()
    session.watch(run_dir)
    session.flash(f"Started **{text.plain(run_dir.name)}** — the trainer is loading (a few seconds).", "success")
