"""The studio serves this machine only and reports nothing, whatever folder it is started from.

Streamlit reads `.streamlit/config.toml` from the working directory, so the repo root's `server.address =
"localhost"` held only when started there. Three layers now hold everywhere:

- `studio/.streamlit/config.toml`, the script-level config Streamlit reads beside `studio/app.py` from any
  working directory: bind localhost, no usage statistics;
- `LoopbackOnly`, a middleware of the studio's st.App: a client whose address is not loopback gets 403, unless
  the user asked for a non-loopback `server.address` explicitly (a flag, an environment variable or a config);
- `at_start()`, called in the app's lifespan: usage statistics off, and a warning printed when the studio is
  shared on purpose.
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Any

from streamlit import config

WHERE = "studio.netguard"  # shows as where the option was set in `streamlit config show`
REFUSED = b"TAAF Studio serves this machine only (start it with --server.address 0.0.0.0 to share it on purpose)\n"


def is_loopback(host: str | None) -> bool:
    """Whether a peer or bind address is this machine itself ('localhost', 127.0.0.0/8, ::1, ::ffff:127.x)."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host.split("%")[0].strip("[]"))
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def shared_on_purpose() -> bool:
    """The user explicitly set a server.address that is not loopback (e.g. --server.address 0.0.0.0)."""
    address = config.get_option("server.address")
    if not address or is_loopback(address) or str(address).startswith("unix://"):
        return False
    return config.is_manually_set("server.address") and config.get_where_defined("server.address") != WHERE


def at_start() -> None:
    """Call in the st.App lifespan, before the first session: usage statistics off (the browser reads the option
    for every new session), and one warning line when the studio is reachable from other machines."""
    config.set_option("browser.gatherUsageStats", False, where_defined=WHERE)
    if shared_on_purpose():
        print(f"warning: TAAF Studio is serving {config.get_option('server.address')}: anyone who can reach this "
              "machine can start, pause and stop its runs", file=sys.stderr, flush=True)


class LoopbackOnly:
    """ASGI middleware: refuse (403, one line of text) every HTTP request and websocket whose peer is not
    loopback, unless the studio is shared on purpose (`shared_on_purpose`). A Unix-socket peer is local."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._shared: bool | None = None  # decided at the first connection: the config is final by then

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            if self._shared is None:
                self._shared = shared_on_purpose()
            client = scope.get("client")
            if client and not self._shared and not is_loopback(client[0]):
                await self._refuse(scope, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: dict[str, Any], send: Any) -> None:
        if scope["type"] == "websocket":  # closing before accept answers the handshake with 403
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(REFUSED)).encode())]})
        await send({"type": "http.response.body", "body": REFUSED})
