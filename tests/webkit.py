"""Helpers of the ``gems serve`` tests: raw HTTP requests whose every header the test chooses, multipart bodies,
and the shape of an error answer."""

from __future__ import annotations

import http.client
import json
import urllib.parse

CLI_KEYS = {"track_id", "title", "artist", "soundtrack", "score", "similarity", "popularity"}
CLI_KEYS |= {"popularity_percentile", "is_tail", "why", "seed", "tags"}
TOKEN_HEADER = "X-Gems-Token"


class Answer:
    """A response read whole: ``status``, ``headers`` (lower-cased names), ``body`` bytes."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.body[:300]!r})"


def ask(
    base: str,
    path: str,
    *,
    method: str = "GET",
    params: dict | None = None,
    host: str | None = None,
    headers: dict | None = None,
    body: bytes | None = None,
    timeout: float = 60,
) -> Answer:
    """``method path`` sent to the server at ``base`` (``http://host:port/``) as it is: ``host`` replaces the
    Host header (``""``: none at all), ``headers`` are added."""
    where = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=timeout)
    query = urllib.parse.urlencode(params or {}, doseq=True)
    connection.putrequest(method, path + (f"?{query}" if query else ""), skip_host=True, skip_accept_encoding=True)
    host = where.netloc if host is None else host
    if host:
        connection.putheader("Host", host)
    for name, value in (headers or {}).items():
        connection.putheader(name, value)
    if body is not None:
        connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    response = connection.getresponse()
    answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    connection.close()
    return answer


def multipart(name: str, data: bytes, boundary: str = "gemsboundary") -> tuple[bytes, dict]:
    """A multipart/form-data body with one file field ``file``, and its Content-Type header."""
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), {
        "Content-Type": f"multipart/form-data; boundary={boundary}"
    }


def assert_error(response, status: int | tuple[int, ...], *words: str) -> str:
    """An ``{"error": "..."}`` JSON answer with one of ``status``, naming ``words``; never a traceback."""
    statuses = status if isinstance(status, tuple) else (status,)
    code = getattr(response, "status_code", None) or response.status
    assert code in statuses, (code, getattr(response, "text", None) or response)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and "Traceback" not in body["error"] and "bug in gems" not in body["error"]
    for word in words:
        assert word in body["error"], body["error"]
    return body["error"]
