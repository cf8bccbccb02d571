"""The live routes' answers to odd input: a replay time that is no number, an unreadable run, folder names with
spaces or letters beyond ASCII (studio/live/routes.py, runs.py, urls.py)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from starlette.requests import Request

from studio.live import routes, urls
from studio.live import runs as live_runs
from tests.support import make_run


@pytest.fixture()
def runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    d = tmp_path / "runs"
    make_run(d / "good", status="running")
    monkeypatch.setenv("TAAF_RUNS_DIR", str(d))
    monkeypatch.setenv("TAAF_DEMO_RUN", "")
    live_runs._runs.clear()
    return d


def _get(src: str, name: str | None = None):  # noqa: ANN202
    """The response of the route a page would ask for with URL `src` (as urls.py builds it)."""
    parts = urlsplit(src)
    scope = {"type": "http", "method": "GET", "path": parts.path, "headers": [], "query_string": parts.query.encode(),
             "path_params": {"name": name} if name else {}}
    return (routes.figure_route if name else routes.head_route)(Request(scope))


@pytest.mark.parametrize("t0", ["nan", "inf", "-inf", "-1e309", "1e400"])
def test_a_replay_time_that_is_no_finite_number_is_a_400_in_one_line(runs: Path, t0: str) -> None:
    for response in (_get(f"{urls.HEAD_PATH}?run=good&t0={t0}"), _get(f"/taaf/api/fig/loss?run=good&t0={t0}", "loss")):
        assert response.status_code == 400
        error = json.loads(response.body)["error"]
        assert "\n" not in error and "t0" in error
    assert _get(f"{urls.HEAD_PATH}?run=good&t0=12.5").status_code == 200


def test_an_unreadable_run_answers_503_naming_no_absolute_path(runs: Path) -> None:
    (runs / "broken").mkdir()
    (runs / "broken" / "store.sqlite").write_bytes(b"not a database at all" * 100)
    for response in (_get(urls.head_src("broken")), _get(urls.figure_src("broken", "loss"), "loss")):
        assert response.status_code == 503
        error = json.loads(response.body)["error"]
        assert "broken" in error and "store.sqlite" in error
        assert str(runs) not in error and "/" not in error, error


@pytest.mark.parametrize("name", ["my run", "exp-ü", "résumé 2", "run+plus", "a&b=c", "x%41y", "日本"])
def test_any_direct_child_folder_can_be_watched_live(runs: Path, name: str) -> None:
    make_run(runs / name, status="running")
    head = _get(urls.head_src(name))
    assert head.status_code == 200 and json.loads(head.body)["name"] == name
    assert _get(urls.figure_src(name, "loss"), "loss").status_code == 200


@pytest.mark.parametrize("token", ["", ".", "..", "../runs/good", "good/..", "good/../good", "/etc", "a\\b",
                                   "good\x00", ".hidden", "x" * 256])
def test_traversal_separators_nul_and_hidden_names_are_refused(runs: Path, token: str) -> None:
    (runs / ".hidden").mkdir()
    assert live_runs.resolve_run(token) is None
    assert _get(urls.head_src(token)).status_code == 404


def test_a_link_out_of_the_runs_folder_is_refused(runs: Path, tmp_path: Path) -> None:
    make_run(tmp_path / "elsewhere" / "secret")
    (runs / "a link").symlink_to(tmp_path / "elsewhere" / "secret")
    assert live_runs.resolve_run("a link") is None
    assert _get(urls.head_src("a link")).status_code == 404
