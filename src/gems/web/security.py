"""Who may talk to ``gems serve``: it runs on a listener's own computer and streams their own music, so any web
page they visit is a possible attacker. :class:`Guard` wraps the whole app (API, page, /static, /api/audio):

1. **Host allow-list** (against DNS rebinding, where a page's own domain is made to point at 127.0.0.1): the
   ``Host`` header must name ``localhost``, ``127.0.0.1``, ``[::1]``, the address the connection arrived at, or a
   name given with ``--allow-host NAME`` — with the server's port, or no port (what HTTP clients and proxies
   send for the scheme's default port); ``--allow-host NAME:PORT`` allows that port as well. Else 403.
2. **Other origins**: a request with an ``Origin`` other than the server's own, or that a browser marks as sent
   by another site's page (``Sec-Fetch-Site: cross-site`` or ``same-site``, except following a link), is
   refused (403). No answer carries ``Access-Control-Allow-Origin``, so a CORS preflight always fails.
3. **Token**: every request but GET and HEAD (uploads, and anything that could change state) must carry this
   server's random token in the ``X-Gems-Token`` header. ``GET /api/token`` gives it, readable only by the
   server's own page and by programs on the machine: another page's request is refused by rule 2, and a
   custom header forces a CORS preflight that rule 2 refuses too.

Every answer also tells browsers not to sniff types, not to let other sites embed or frame it, and to send
no referrer.
"""

from __future__ import annotations

import hmac
import re

from gems.errors import ParameterError
from gems.web.errors import error_body

TOKEN_HEADER = "X-Gems-Token"
LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
SAFE_METHODS = frozenset({"GET", "HEAD"})
DEFAULT_PORTS = {"http": 80, "https": 443}
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    (b"referrer-policy", b"no-referrer"),
]
_HOST = re.compile(r"(?P<name>\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(?P<port>[0-9]{1,5}))?", re.IGNORECASE)
_ORIGIN = re.compile(r"(?P<scheme>https?)://(?P<host>[^/?#]+)", re.IGNORECASE)


def split_host(value: str) -> tuple[str, int | None] | None:
    """(lower-cased name, port or None) of a ``Host`` value — IPv6 addresses in brackets — or None when it is
    not one."""
    found = _HOST.fullmatch(value.strip())
    if not found or not found["name"].strip("."):
        return None
    port = int(found["port"]) if found["port"] else None
    if port is not None and not 0 < port < 65536:
        return None
    return found["name"].lower(), port


def allowed_hosts(names) -> tuple[frozenset[str], frozenset[tuple[str, int]]]:
    """The ``--allow-host`` values as (names allowed on the server's port, (name, port) pairs);
    ParameterError naming a value that is no host name."""
    plain, pairs = set(), set()
    for value in names:
        parsed = split_host(value)
        if parsed is None:
            raise ParameterError(
                f"--allow-host '{value}' is not a host name; give a name or address as a browser's address bar "
                "shows it (gems.local, 192.168.1.20, [fe80::1]), with :PORT when it differs from --port"
            )
        name, port = parsed
        if port is None:
            plain.add(name)
        else:
            pairs.add((name, port))
    return frozenset(plain), frozenset(pairs)


class Guard:
    """ASGI middleware applying the three rules of this module (``token``: the server's secret; ``allow``: the
    result of :func:`allowed_hosts`)."""

    def __init__(self, app, *, token: str, allow: tuple[frozenset[str], frozenset[tuple[str, int]]]):
        self.app = app
        self.token = token.encode()
        self.names, self.pairs = allow

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refused = self.refusal(scope, _headers(scope))
        if refused is not None:
            status, message = refused
            body = error_body(message)
            start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": status, "headers": start + HEADERS})
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"access-control-allow-origin"]
                message = {**message, "headers": headers + HEADERS}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def refusal(self, scope, headers: dict[str, str]) -> tuple[int, str] | None:
        """(status, message) when the request breaks one of the rules, else None."""
        host = headers.get("host")
        if not host:
            return 400, "the request has no Host header; send one (HTTP/1.1 requires it), e.g. Host: localhost"
        parsed = split_host(host)
        if parsed is None or not self._allowed(scope, *parsed):
            return 403, self._host_message(host[:100], parsed)
        origin = headers.get("origin")
        if origin is not None and not _same_origin(origin, *parsed):
            return 403, (
                f"requests from other web pages (Origin: {origin[:100]}) are refused: gems serve answers its own "
                "page and programs on this machine (which send no Origin header)"
            )
        site, mode = headers.get("sec-fetch-site"), headers.get("sec-fetch-mode")
        if site in ("cross-site", "same-site") and not (mode == "navigate" and scope["method"] in SAFE_METHODS):
            return 403, (
                f"requests from other web pages (Sec-Fetch-Site: {site}) are refused: gems serve answers its own "
                "page and programs on this machine"
            )
        if scope["method"] not in SAFE_METHODS:
            sent = headers.get(TOKEN_HEADER.lower(), "").encode("latin-1", "replace")
            if not hmac.compare_digest(sent, self.token):
                return 403, (
                    f"{scope['method']} {scope['path'][:100]} needs this server's token in the {TOKEN_HEADER} "
                    f'header: add -H "{TOKEN_HEADER}: $(curl -s {host[:100]}/api/token)" to the curl command'
                )
        return None

    def _allowed(self, scope, name: str, port: int | None) -> bool:
        server = scope.get("server")
        own_port = server[1] if server else None
        if name in LOCAL_NAMES or name in self.names or (server and name == _bracketed(server[0])):
            return port is None or own_port is None or port == own_port
        return port is not None and (name, port) in self.pairs

    @staticmethod
    def _host_message(host: str, parsed) -> str:
        if parsed is None:
            return f"'{host}' is not a host name; send Host: localhost:PORT"
        name, port = parsed
        allow = name if port is None else f"{name}:{port}"
        return (
            f"this server does not answer to the host name '{host}' (a web page may be trying to reach it through "
            f"DNS rebinding); if you opened it under that name yourself, start it with `gems serve --allow-host "
            f"{allow}`"
        )


def _headers(scope) -> dict[str, str]:
    """The request's headers by lower-cased name (the first of repeated ones)."""
    out: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        out.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
    return out


def _bracketed(address: str) -> str:
    return f"[{address.lower()}]" if ":" in address else address.lower()


def _same_origin(origin: str, name: str, port: int | None) -> bool:
    """Whether ``Origin`` names the server as the request's Host does (scheme http, or https behind a proxy)."""
    found = _ORIGIN.fullmatch(origin.strip())
    theirs = split_host(found["host"]) if found else None
    if theirs is None:
        return False
    default = DEFAULT_PORTS[found["scheme"].lower()]
    return theirs[0] == name and (theirs[1] or default) == (port or default)
