"""``gems serve`` against the web pages its user visits: DNS rebinding (a foreign Host), cross-site requests
(a foreign Origin, a page's no-cors loads, CORS preflights), uploads without the server's token — each refused
with one clear JSON line before any work is done — while the page, curl and scripts on the machine still work."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile

import pytest

pytest.importorskip("fastapi", reason="gems serve needs fastapi (pip install -e '.[test]')")
from gems.web import create_app, running  # noqa: E402
from webkit import TOKEN_HEADER, ask, assert_error, multipart  # noqa: E402

EXPORT = b"user,track,plays\nme,g0-t1,3\nme,g1-t2,1\n"  # two tracks of listenskit's log
PATHS = ["/", "/static/app.js", "/api/info", "/api/token", "/api/search?q=track", "/api/audio/g0-t1", "/nowhere"]


@pytest.fixture(scope="module")
def app(built_model):
    return create_app(built_model, allow_hosts=["gems.home", "proxy.lan:8443"])


@pytest.fixture(scope="module")
def url(app):
    with running(app) as base:
        yield base


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    """Where the server's temporary upload folders go during the test."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def port_of(url: str) -> int:
    return int(url.rstrip("/").rsplit(":", 1)[1])


# --------------------------------------------------------------------------------------------- Host


@pytest.mark.parametrize("path", PATHS)
def test_a_foreign_host_name_is_refused_on_every_path(url, path):
    error = assert_error(ask(url, path, host=f"evil.example:{port_of(url)}"), 403, "evil.example", "--allow-host")
    assert "DNS rebinding" in error


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "localhost.",  # a name of its own for a resolver, not the loopback name
        "localhost.evil.example",
        "127.0.0.1.nip.io",
        "0.0.0.0:{port}",
        "localhost:1",  # the right name on another port: something forwarded it
        "gems.home:1",
        "proxy.lan:{port}",  # allowed on its own port only
        "localhost:{port}@evil.example",
        "evil.example, localhost:{port}",
        "[::1",
        "localhost:99999",
    ],
)
def test_hosts_that_are_not_this_server_are_refused(url, host):
    assert_error(ask(url, "/api/info", host=host.format(port=port_of(url))), 403)


@pytest.mark.parametrize(
    "host", ["localhost:{port}", "LOCALHOST:{port}", "127.0.0.1:{port}", "localhost", "127.0.0.1", "gems.home:{port}"]
    + ["gems.home", "GEMS.home", "proxy.lan:8443"],
)  # fmt: skip
def test_this_servers_names_are_answered_with_its_port_or_none(url, host):
    answer = ask(url, "/api/info", host=host.format(port=port_of(url)))
    assert answer.status == 200 and answer.json()["tracks"] > 0


def test_a_request_without_a_host_header_is_refused_in_one_line(url):
    where = ("127.0.0.1", port_of(url))
    with socket.create_connection(where, timeout=30) as sock:
        sock.sendall(b"GET /api/info HTTP/1.0\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"Host header" in body and b"Traceback" not in body


def test_the_ipv6_loopback_is_answered_by_its_name(built_model):
    if not socket.has_ipv6:
        pytest.skip("this machine has no IPv6")
    try:
        context = running(create_app(built_model), host="::1")
        base = context.__enter__()
    except Exception as exc:  # noqa: BLE001 (no ::1 to bind in this container)
        pytest.skip(f"cannot listen on [::1]: {exc}")
    try:
        port = port_of(base)
        assert ask(base, "/api/info", host=f"[::1]:{port}").status == 200
        assert ask(base, "/api/info", host=f"localhost:{port}").status == 200
        assert_error(ask(base, "/api/info", host=f"[::2]:{port}"), 403)
    finally:
        context.__exit__(None, None, None)


def test_allow_host_values_are_checked_in_one_line(built_model, gems_cli):
    from hostilekit import assert_one_clear_line

    for bad in ("evil example", "http://gems.home", "gems.home:99999", ""):
        assert_one_clear_line(gems_cli("serve", "-m", built_model, "--port", "0", "--allow-host", bad), "--allow-host")


# --------------------------------------------------------------------------------------------- other origins


def test_uploads_need_the_servers_token_and_no_foreign_origin(url, app, temp_root):
    body, headers = multipart("me.csv", EXPORT)
    token = {TOKEN_HEADER: app.state.token}
    own = {"Origin": url.rstrip("/")}
    evil = {"Origin": "http://evil.example"}
    for extra, words in (
        ({}, [TOKEN_HEADER, "/api/token"]),  # a form on another site sends no token
        ({TOKEN_HEADER: "guess"}, [TOKEN_HEADER]),
        ({TOKEN_HEADER: app.state.token[:-1]}, [TOKEN_HEADER]),
        (evil, ["evil.example"]),
        ({**evil, **token}, ["evil.example"]),  # a token cannot make another page's request welcome
        ({"Origin": "null", **token}, ["null"]),  # sandboxed frames and file:// pages
        ({"Origin": f"http://localhost:{port_of(url) + 1}", **token}, ["Origin"]),  # another local server's page
        ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", **token}, ["cross-site"]),  # a form post
    ):
        answer = ask(url, "/api/history", method="POST", headers={**headers, **extra}, body=body)
        assert_error(answer, 403, *words)
    assert list(temp_root.iterdir()) == []  # refused before anything was written, let alone parsed
    for extra in (token, {**token, **own}, {**token, "Sec-Fetch-Site": "same-origin"}):  # a script; the page
        answer = ask(
            url, "/api/history", method="POST", params={"format": "table"}, headers={**headers, **extra}, body=body
        )
        assert answer.status == 200 and len(answer.json()) > 0, answer


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_every_method_but_get_and_head_needs_the_token(url, method):
    assert_error(ask(url, "/api/history", method=method), 403, TOKEN_HEADER)


def test_no_cors_preflight_succeeds_and_no_answer_allows_another_origin(url, app):
    preflight = ask(
        url,
        "/api/history",
        method="OPTIONS",
        headers={
            "Origin": "http://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-gems-token",
        },
    )
    assert preflight.status >= 400
    for path in PATHS + ["/api/recommend?like=g0-t0"]:
        for extra in ({}, {"Origin": "http://evil.example"}, {"Origin": url.rstrip("/")}):
            answer = ask(url, path, headers=extra)
            assert not any(name.startswith("access-control-") for name in answer.headers), (path, answer.headers)
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["cross-origin-resource-policy"] == "same-origin"
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_another_sites_page_cannot_read_or_embed_anything(url):
    for path in PATHS[1:]:
        assert_error(ask(url, path, headers={"Origin": "http://evil.example"}), 403, "evil.example")
        for mode in ("no-cors", "cors"):  # <audio src>, <img src>, <script src>, fetch()
            headers = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": mode}
            assert_error(ask(url, path, headers=headers), 403, "cross-site")
        headers = {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors"}  # a page on localhost:OTHER
        assert_error(ask(url, path, headers=headers), 403, "same-site")
    followed = ask(url, "/", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
    assert followed.status == 200 and b'type="search"' in followed.body  # following a link to the page is fine


def test_the_token_is_the_servers_own_and_never_cached(url, app, built_model):
    answer = ask(url, "/api/token")
    assert answer.status == 200 and answer.body.decode() == app.state.token and len(app.state.token) >= 32
    assert answer.headers["cache-control"] == "no-store" and answer.headers["content-type"].startswith("text/plain")
    assert create_app(built_model).state.token != app.state.token  # a new one each start


def test_the_documented_curl_recipe_uploads_a_history(url, tmp_path):
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    export = tmp_path / "me.csv"
    export.write_bytes(EXPORT)
    base = url.rstrip("/")
    recipe = (
        f'curl -s -H "{TOKEN_HEADER}: $(curl -s {base}/api/token)" -F file=@{export} "{base}/api/history?format=table"'
    )
    done = subprocess.run(["bash", "-c", recipe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("[{"), done.stdout + done.stderr
    plain = subprocess.run(
        ["curl", "-s", "-F", f"file=@{export}", f"{base}/api/history"], capture_output=True, text=True
    )
    assert '"error"' in plain.stdout and TOKEN_HEADER in plain.stdout


def test_a_server_open_to_the_network_prints_an_address_it_answers_to(built_model):
    import re
    import sys

    command = [sys.executable, "-m", "gems.cli", "serve", "-m", str(built_model), "--host", "0.0.0.0", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", process.stdout.readline())
        assert found and "--allow-host" in process.stdout.readline()
        url = found.group(0)
        assert ask(url, "/api/info").status == 200
        assert_error(ask(url, "/api/info", host=f"0.0.0.0:{found.group(1)}"), 403, "--allow-host 0.0.0.0")
    finally:
        process.terminate()
        process.communicate(timeout=30)
