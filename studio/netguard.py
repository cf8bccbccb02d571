"""The studio serves this machine only and reports nothing, whatever folder it is started from.

Streamlit reads `.streamlit/config.toml` from the working directory, so the repo root's `server.address =
"localhost"` held only when started there. Three layers now hold everywhere:

- `studio/.streamlit/config.toml`, the script-level config Streamlit reads beside `studio/app.py` from any
  working directory: bind localhost, no usage statistics;
- `LoopbackOnly`, a middleware of the studio's st.App: a client whose address is not loopback gets 403, unless
  the user asked for a non-loopback `server.address` explicitly (a flag, an environment variable or a config);
  and the studio answers only its own page (`foreign_request`): a Host that is not a loopback name (DNS
  rebinding) is refused unless shared on purpose, and so is a websocket or request whose Origin is not the
  Host itself (another page of this machine, any port) or that a browser marks as fetched by another site.
  It refuses before Streamlit's own handlers run: Streamlit's origin check would look up this machine's
  external IP on a web service for a foreign Origin;
- `at_start()`, called in the app's lifespan: usage statistics off, and a warning printed when the studio is
  shared on purpose.
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Any
from urllib.parse import urlsplit

from streamlit import config

WHERE = "studio.netguard"  # shows as where the option was set in `streamlit config show`
REFUSED = b"TAAF Studio serves this machine only (start it with --server.address 0.0.0.0 to share it on purpose)\n"
FOREIGN = b"TAAF Studio answers only its own page (open it at http://localhost:<port>/)\n"


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


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


def _host_name(host: str) -> str | None:
    """The name part of a Host header ('localhost:8501' -> 'localhost', '[::1]:80' -> '::1'), None if malformed."""
    try:
        parts = urlsplit(f"//{host}")
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        return None
    if parts.username is not None or parts.path or parts.query or parts.fragment:
        return None
    return parts.hostname


def foreign_request(scope: dict[str, Any], shared: bool) -> bool:
    """Whether an HTTP request or websocket comes from anywhere but the studio's own page (refuse it).

    - Host must name this machine (localhost, 127.x.x.x, [::1]) unless shared on purpose: another name pointed at
      127.0.0.1 (DNS rebinding) would make the studio the attacker's own origin;
    - Origin, when sent (browsers always send it on websockets and cross-origin fetches), must be the Host itself,
      with the request's own scheme: a page on another port of localhost is another origin;
    - Sec-Fetch-Site, when sent, must say the request comes from the studio's page or the user (same-origin,
      none), except a top-level navigation (a link to the studio from elsewhere opens it; that page cannot
      read it). A request without these headers comes from no browser: it cannot carry a page's intent.
    """
    host = _header(scope, b"host")
    if host is not None:
        name = _host_name(host)
        if name is None or (not shared and not is_loopback(name)):
            return True
    origin = _header(scope, b"origin")
    if origin is not None:
        try:
            parts = urlsplit(origin)
            netloc = parts.netloc
        except ValueError:
            return True
        secure = {"http": False, "ws": False, "https": True, "wss": True}.get(scope.get("scheme", ""))
        if host is None or parts.scheme not in ("http", "https") or netloc.lower() != host.lower() \
                or (secure is not None and secure != (parts.scheme == "https")):
            return True
    site = _header(scope, b"sec-fetch-site")
    if site is not None and site.lower() not in ("same-origin", "none"):
        navigation = (_header(scope, b"sec-fetch-mode") or "").lower() == "navigate" and \
            (_header(scope, b"sec-fetch-dest") or "document").lower() == "document"
        return scope["type"] != "http" or not navigation
    return False


class LoopbackOnly:
    """ASGI middleware: refuse (403, one line of text) every HTTP request and websocket whose peer is not
    loopback, unless the studio is shared on purpose (`shared_on_purpose`), and every one that is not from the
    studio's own page (`foreign_request`). A Unix-socket peer is local."""

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
            if foreign_request(scope, self._shared):
                await self._refuse(scope, send, FOREIGN)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: dict[str, Any], send: Any, body: bytes = REFUSED) -> None:
        if scope["type"] == "websocket":  # closing before accept answers the handshake with 403
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
