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
from urllib.parse import urlencode

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run studio/app.py` puts studio/, not the repo, on sys.path
    sys.path.insert(0, str(ROOT))


from starlette.middleware import Middleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import RedirectResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from studio import netguard, warmup  # noqa: E402
from studio.live import routes  # noqa: E402

DEFAULT_PORT = 8501  # Streamlit's, and the README's

def _present(request: Request) -> RedirectResponse:
    """/present loaded directly (a bookmark, the README's link): Streamlit's page would first probe
    /present/_stcore/health and /host-config for its server (two 404s in every console), so the studio's root
    opens instead and switches to Presenter mode at once (views/1_train.py: `?present=1`), keeping the query."""
    query = urlencode([("present", "1"), *((k, v) for k, v in request.query_params.multi_items() if k != "present")])
    return RedirectResponse(f"/?{query}", status_code=307)


def _say_port() -> None:
    """One line when this studio is not on the port the README names: another server holds it, and a browser
    opening that one gets the other studio."""
    import socket

    from streamlit import config

    port = int(config.get_option("server.port"))
    if port == DEFAULT_PORT:
        return
    with socket.socket() as s:
        s.settimeout(0.5)
        if s.connect_ex(("127.0.0.1", DEFAULT_PORT)) == 0:
            print(f"TAAF Studio: port {DEFAULT_PORT} is taken (another studio?): this one is at "
                  f"http://localhost:{port}, not http://localhost:{DEFAULT_PORT}", file=sys.stderr, flush=True)


@asynccontextmanager
async def _lifespan(_app: st.App) -> AsyncIterator[None]:
    netguard.at_start()  # no usage statistics; a warning if served beyond this machine on purpose
    _say_port()
    threading.Thread(target=warmup.warm_up, name="studio-warm-up", daemon=True).start()
    yield


# routes.ROUTES: plotly.js and the live run bar's and charts' data, polled by the browser (studio/live/);
# netguard: only loopback clients, unless the user asked for another address (studio/netguard.py)
app = st.App(Path(__file__).with_name("home.py"), lifespan=_lifespan,
             routes=[*routes.ROUTES, Route("/present", _present)], middleware=[Middleware(netguard.LoopbackOnly)])
