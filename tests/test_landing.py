"""studio/ui/landing.py: the Train page opens on something alive."""

from __future__ import annotations

import pandas as pd

from studio.ui.landing import default_run, opened_on


def _table(*rows: tuple[str, str, bool]) -> pd.DataFrame:
    return pd.DataFrame([{"name": n, "path": f"/runs/{n}", "status": s, "demo": d} for n, s, d in rows])


def test_live_run_first_then_demo_then_newest() -> None:
    first_launch = _table(("quickstart", "finished", False), ("demo_run", "finished", True))
    assert default_run(first_launch) == "/runs/demo_run"  # the README's first run is finished: show the demo
    training = _table(("old", "finished", False), ("new", "running", False), ("demo_run", "finished", True))
    assert default_run(training) == "/runs/new"
    assert default_run(_table(("a", "stopped", False), ("b", "finished", False))) == "/runs/a"
    assert default_run(pd.DataFrame()) is None


def test_opened_on_says_which_and_where_the_others_are() -> None:
    t = _table(("quickstart", "finished", False), ("demo_run", "finished", True))
    s = opened_on(t, "/runs/demo_run")
    assert "demo replay" in s and "Your 1 other run is in the **Run** selector" in s
    t2 = _table(("new", "running", False), ("old", "finished", False), ("demo_run", "finished", True))
    assert opened_on(t2, "/runs/new").startswith("Showing **new**, training now (running). Your 1 other run")
    assert opened_on(t2, "/nope") == ""
