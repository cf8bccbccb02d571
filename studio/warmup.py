"""What the first session would otherwise pay: import the pages' modules and build each live figure once.

Called by studio/app.py in a background thread at server start. No Streamlit calls: there is no session
yet. A failure here only means a slower first visit, so it is logged and swallowed.
"""

from __future__ import annotations

import logging


def warm_up() -> None:
    try:
        from studio import settings
        from studio.live.rundata import RunData
        from studio.ui import panels, run_controls, sidebar  # noqa: F401

        demo = settings.demo_dir()
        if demo is None:
            return
        run = RunData(demo, immutable=True)
        run.refresh()
        view = run.view()
        for _, build in panels.VIEW_FIGURES.values():
            build(view)
    except Exception:  # never take the server down for a warm-up
        logging.getLogger(__name__).warning("studio warm-up failed", exc_info=True)
