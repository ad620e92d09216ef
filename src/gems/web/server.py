"""Running the app on uvicorn: a socket bound before the server starts (so a taken port is one clear error),
a foreground run that stops cleanly on Ctrl-C or SIGTERM, and a background run for tests and benchmarks."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator


class _Stop(Exception):
    """SIGTERM, turned into an exception once uvicorn has shut down gracefully and handed the signal back."""


def bind(host: str = "127.0.0.1", port: int = 8765) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port); ParameterError when it cannot bind."""
    from gems.errors import ParameterError

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise ParameterError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port, or --host 127.0.0.1"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://host:port/`` of a bound socket (IPv6 hosts in brackets); for a socket on every address
    (0.0.0.0, ::), its loopback address, which this machine's browser opens and the server answers to."""
    host, port = sock.getsockname()[:2]
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


REQUEST_HEAD_LIMIT = 1 << 20  # bytes of a request line and headers: longer queries than any the API accepts,
# so too many values get the API's own one-line answer (h11's default, 16 KiB, resets the connection instead)


def _server(app, log_level: str):
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=log_level == "info",
        lifespan="off",
        h11_max_incomplete_event_size=REQUEST_HEAD_LIMIT,
        proxy_headers=False,  # X-Forwarded-* from a local program would rewrite the URLs playlists stream from
    )
    return uvicorn.Server(config)


def serve_forever(app, sock: socket.socket, *, log_level: str = "warning") -> None:
    """Serve ``app`` on ``sock`` until Ctrl-C or SIGTERM; both end the requests in flight, then return."""
    server = _server(app, log_level)
    previous = signal.signal(signal.SIGTERM, _raise_stop)  # uvicorn hands the signal back after its shutdown
    try:
        server.run(sockets=[sock])
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()


def _raise_stop(signum, frame) -> None:
    raise _Stop


@contextlib.contextmanager
def running(app, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning") -> Iterator[str]:
    """``app`` served from a thread on a free port of ``host``; yields its URL, stops it on exit."""
    sock = bind(host, port)
    server = _server(app, log_level)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gems web server did not start")
        time.sleep(0.02)
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
