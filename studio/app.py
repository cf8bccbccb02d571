"""TAAF Studio: train a multimodal spiking network and watch it learn, live.

    streamlit run studio/app.py [-- --runs-dir DIR]

`app` is an st.App: Streamlit finds it here and serves studio/home.py (the page navigation) through
it. Its lifespan starts studio.warmup in a background thread as soon as the server starts, so that
the imports and plotly's first figures (about 0.5 s of Python) are done while the first browser is
still loading Streamlit's JavaScript. The first visit then finds the server warm.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run studio/app.py` puts studio/, not the repo, on sys.path
    sys.path.insert(0, str(ROOT))


from starlette.middleware import Middleware  # noqa: E402

from studio import netguard, warmup  # noqa: E402
from studio.live import routes  # noqa: E402


@asynccontextmanager
async def _lifespan(_app: st.App) -> AsyncIterator[None]:
    netguard.at_start()  # no usage statistics; a warning if served beyond this machine on purpose
    threading.Thread(target=warmup.warm_up, name="studio-warm-up", daemon=True).start()
    yield


# routes.ROUTES: plotly.js and the live run bar's and charts' data, polled by the browser (studio/live/);
# netguard: only loopback clients, unless the user asked for another address (studio/netguard.py)
app = st.App(Path(__file__).with_name("home.py"), lifespan=_lifespan, routes=routes.ROUTES,
             middleware=[Middleware(netguard.LoopbackOnly)])
