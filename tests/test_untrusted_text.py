"""A run folder from someone else is data: its warnings, errors, names and labels show as text in the page and
in the charts, never as markdown (an image fetched, a link to click) or plotly HTML (studio/ui/text.py,
studio/charts/figbuild.py). In a real browser: tests/test_untrusted_text_browser.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from core.store import RunWriter
from studio.charts import curves, inspection, rasters
from studio.ui.text import JOINER, plain
from tests.support import assert_renders, make_run, open_studio

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

PAYLOADS = ["![](http://127.0.0.1:9/x)", "[click](http://evil.example)", "<img src=x onerror=alert(1)>",
            ":red[styled] $x^2$ **bold**", "www.evil.example", "<http://evil.example/auto>",
            "mail me@evil.example", "https://bare.example/path"]
NAME = "[click](javascript:alert(1)) <img src=x>"  # a run folder name: no '/' possible, the rest is


def _shown(at: AppTest) -> str:
    """Every markdown text the page sent to the browser (alerts, captions, markdown, help tooltips)."""
    parts = [str(e.value) for kind in ("markdown", "success", "info", "warning", "error", "caption")
             for e in getattr(at, kind)]
    parts += [str(b.help) for b in at.button if b.help]
    return "\n".join(parts)


def test_plain_escapes_markdown_images_links_html_and_directives() -> None:
    for payload in PAYLOADS:
        escaped = plain(payload)
        # no markdown-significant character is left without its backslash
        assert not re.search(r"(?<!\\)[\[\]()<>!:$*`_]", escaped), escaped
        assert re.sub(r"\\(.)", r"\1", escaped).replace(JOINER, "") == payload  # and it shows the same text


@pytest.fixture()
def hostile_runs(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    make_run(runs / "a-failed", status="failed", error="RuntimeError: " + " ".join(PAYLOADS))
    live = make_run(runs / NAME, status="running")  # its writer pid (this process) is alive: watched live
    w = RunWriter.open(live)
    w.set_meta("warnings", PAYLOADS)
    w.set_meta("checkpoint", "ckpt " + PAYLOADS[0])
    w.close()
    return runs


def test_run_warnings_errors_and_names_reach_the_page_as_text(monkeypatch: pytest.MonkeyPatch,
                                                              hostile_runs: Path) -> None:
    at = open_studio(monkeypatch, hostile_runs)
    assert_renders(at)
    shown = _shown(at)
    assert plain(NAME) in shown  # the page opened on the running run and named it
    for payload in PAYLOADS:  # the trainer's warnings
        assert payload not in shown and plain(payload) in shown, payload
    at.selectbox(key="live_run").set_value(str(hostile_runs / "a-failed")).run()
    shown = _shown(at)
    assert "RuntimeError" in shown
    for payload in PAYLOADS:
        assert payload not in shown and plain(payload) in shown, payload


def test_chart_labels_from_a_run_are_literal_in_plotly() -> None:
    link = '<a href="http://evil.example">click</a>'
    styled = '<span style="background:url(http://127.0.0.1:9/x)">s</span>'
    frame = pd.DataFrame({"step": [1, 2, 3], "loss": [1.0, 0.5, 0.2]})
    built = [curves.compare_figure({link: frame, styled: frame}, "loss"),
             inspection.buildup_figure(np.full((4, 2), 0.5, np.float32), [link, styled], label=0),
             rasters.raster_figure({"a." + link: np.ones((4, 3), np.uint8)})]
    for fig in built:
        text = json.dumps(json.loads(fig.to_json()), ensure_ascii=False)  # to_json writes '<' as \u003c
        assert "<a " not in text and "<span" not in text and "&lt;a href" in text, text[:400]
    own_words = json.loads(built[2].to_json())["layout"]["annotations"][0]["text"]
    assert "neurons, rate" in own_words  # the studio's own words around the name are kept


def test_own_formatting_tags_survive() -> None:
    from studio.charts.figbuild import plotly_text

    assert plotly_text("a<br>b <b>c</b> x<sup>2</sup> α<sub>u</sub>") == "a<br>b <b>c</b> x<sup>2</sup> α<sub>u</sub>"
    assert plotly_text("<a href='x'>y</a> & <b style='c'>") == "&lt;a href='x'>y&lt;/a> &amp; &lt;b style='c'>"
