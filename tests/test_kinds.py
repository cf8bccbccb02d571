"""Every collected test has exactly one kind (unit, integration, browser), and the kind fits what it does:
a test in a module that launches Chromium is `browser`, and a test that starts a process itself is not `unit`."""

from __future__ import annotations

import inspect
import re

import pytest

from tests.conftest import KINDS

# Launching Chromium: through tests.support, or playwright's own call (spelled apart: this file does neither).
LAUNCHES_CHROMIUM = re.compile(r"\blaunch_chromium\(|\.chromium" + r"\.launch\(")
# What a test's own code does to start a process or a trainer (helpers it calls are not looked into).
STARTS_A_PROCESS = re.compile(r"subprocess\.(run|Popen|check_output|call)\(|\bPopen\(|torchrun\(|devserver\.start\(")


def _kinds(item: pytest.Item) -> list[str]:
    return [k for k in KINDS if item.get_closest_marker(k)]


def _items(request: pytest.FixtureRequest) -> list[pytest.Function]:
    return [i for i in request.session.items if isinstance(i, pytest.Function)]


def test_every_test_has_exactly_one_kind(request: pytest.FixtureRequest) -> None:
    wrong = [f"{i.nodeid}: {_kinds(i)}" for i in _items(request) if len(_kinds(i)) != 1]
    assert not wrong, "tests need exactly one of unit / integration / browser:\n" + "\n".join(wrong)


def test_tests_that_launch_chromium_are_browser_tests(request: pytest.FixtureRequest) -> None:
    wrong = [i.nodeid for i in _items(request)
             if LAUNCHES_CHROMIUM.search(inspect.getsource(i.module)) and _kinds(i) != ["browser"]]
    assert not wrong, "in a module that launches Chromium, mark the tests `browser`:\n" + "\n".join(wrong)


def test_tests_that_start_processes_are_not_unit_tests(request: pytest.FixtureRequest) -> None:
    wrong = [i.nodeid for i in _items(request)
             if "unit" in _kinds(i) and STARTS_A_PROCESS.search(inspect.getsource(i.function))]
    assert not wrong, "a test that starts a process is `integration` (or `browser`):\n" + "\n".join(wrong)


def test_the_kinds_are_registered_and_strict() -> None:
    import tomllib

    from tests.support import ROOT

    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--strict-markers" in ini["addopts"]
    assert sorted(m.split(":")[0] for m in ini["markers"]) == sorted(KINDS)
