"""Which run the Train & watch page opens on, and the line saying which it is (pure; no Streamlit).

A first visit should show something alive: the run that is training now, else the demo replay (moving
panels from the first second), with the user's finished runs one click away in the run selector. A
finished run of the README's first command is static: opening on it looked as if nothing happened.
"""

from __future__ import annotations

import pandas as pd

from studio.ui.text import plain

LIVE = ("running", "paused", "starting")  # a trainer is (about to be) there


def default_run(table: pd.DataFrame) -> str | None:
    """The run to open on: the newest live run, else the demo, else the newest run (None: no runs).

    `table` is studio/ui/runlist.py run_table: `path`, `status`, `demo`, newest first, the demo last.
    """
    if table.empty:
        return None
    demo = table["demo"].fillna(False).astype(bool)
    live = table[~demo & table["status"].isin(LIVE)]
    if len(live):
        return str(live["path"].iloc[0])
    if demo.any():
        return str(table.loc[demo, "path"].iloc[0])
    return str(table["path"].iloc[0])


def opened_on(table: pd.DataFrame, path: str) -> str:
    """One sentence for the top of the page: what is shown, and where the other runs are."""
    rows = table[table["path"].astype(str) == str(path)]
    if rows.empty:
        return ""
    row = rows.iloc[0]
    others = int((~table["demo"].fillna(False).astype(bool) & (table["path"].astype(str) != str(path))).sum())
    rest = (f" Your {others} other run{'s are' if others != 1 else ' is'} in the **Run** selector above."
            if others else "")
    if bool(row.get("demo")):
        return ("Showing the **demo replay** (a recorded run, looping): nothing is training right now." + rest)
    if row.get("status") in LIVE:
        return f"Showing **{plain(row['name'])}**, training now ({plain(row['status'])})." + rest
    return f"Showing **{plain(row['name'])}** ({plain(row['status'])})." + rest
