"""``gems serve`` on the real demo model, served by uvicorn: the issue's HTTP checks (raw paths, byte ranges,
20 concurrent clients), then the page in headless Chromium — type a seed, pick a suggestion, see the gems,
load a preview, re-rank, edit and download a playlist, fit a phone, and no console errors; text typed at once
on a freshly started server; an upload through the page; a model whose default scope is soundtracks only."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="gems serve needs fastapi (pip install -e '.[test]')")
from gems.cli import main  # noqa: E402
from gems.web import create_app, running  # noqa: E402
from webkit import CLI_KEYS, TOKEN_HEADER, ask, multipart  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), Path("/usr/bin/chromedriver")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_model(tmp_path_factory) -> Path:
    """models/demo as `make demo` builds it, in a temporary folder (with its own feature cache)."""
    if not (ROOT / "data" / "demo" / "tracks.csv").exists():
        pytest.skip("the bundled demo is missing from data/demo")
    root = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GEMS_CACHE_DIR", str(root / "cache"))
        code = main(["build", str(ROOT / "pipelines" / "demo.toml"), "--model", str(root / "demo"), "--no-progress"])
    assert code == 0
    return root / "demo"


@pytest.fixture(scope="module")
def url(demo_model):
    with running(create_app(demo_model)) as base:
        yield base


def get(base: str, path: str, **params):
    """(status, headers, body bytes) of a GET through a plain HTTP connection (the path sent as it is)."""
    where = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    query = urllib.parse.urlencode(params, doseq=True)
    connection.request("GET", path + (f"?{query}" if query else ""), headers=params.pop("_headers", {}))
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, dict(response.headers), body


# --------------------------------------------------------------------------------------------- over HTTP


def test_the_demo_api_over_a_real_server(url, demo_model, capsys):
    status, _, body = get(url, "/api/search", q="main them")
    assert status == 200 and json.loads(body)[0]["title"] == "Main Theme"
    status, _, body = get(url, "/api/recommend", like="wesnoth-main-theme", k=7)
    picks = json.loads(body)
    assert status == 200 and len(picks) == 7 and all(set(p) == CLI_KEYS for p in picks)
    assert main(["recommend", "-m", str(demo_model), "--like", "wesnoth-main-theme", "-k", "7", "--json"]) == 0
    assert picks == json.loads(capsys.readouterr().out)
    status, _, body = get(url, "/api/recommend", user="sim-user-0007", k=5)
    assert status == 200 and len(json.loads(body)) == 5
    status, headers, body = get(url, "/api/recommend", like="Main Theme", k=-1)
    assert 400 <= status < 500 and "error" in json.loads(body) and headers["content-type"] == "application/json"
    status, headers, body = get(url, "/api/playlist", like="Main Theme", length=6, format="m3u8")
    lines = body.decode().splitlines()
    assert status == 200 and lines[0] == "#EXTM3U" and sum(x.startswith("#EXTINF:") for x in lines) == 6


def test_audio_ranges_and_paths_over_a_real_server(url, demo_model):
    data = (ROOT / "data" / "demo" / "audio" / "wesnoth" / "main-theme.ogg").read_bytes()
    status, headers, body = get(url, "/api/audio/wesnoth-main-theme", _headers={"Range": "bytes=1000-4999"})
    assert status == 206 and body == data[1000:5000] and headers["content-type"] == "audio/ogg"
    tracks_csv = (ROOT / "data" / "demo" / "tracks.csv").resolve()
    for raw in (
        "/api/audio/../../../../etc/passwd",
        "/api/audio/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/audio//etc/passwd",
        f"/api/audio/{tracks_csv}",
        "/api/audio/wesnoth/main-theme.ogg",
        "/api/audio/no-such-track",
    ):
        status, headers, body = get(url, raw)
        assert status in (400, 404), raw
        assert headers["content-type"] == "application/json" and b"root:" not in body and b"track_id" not in body


def test_twenty_concurrent_clients_get_answers_without_an_error(url):
    seeds = [s["track_id"] for s in json.loads(get(url, "/api/search", q="theme")[2])]

    def client(i: int) -> list[int]:
        return [get(url, "/api/recommend", like=seeds[(i + j) % len(seeds)], k=10)[0] for j in range(10)]

    with ThreadPoolExecutor(20) as pool:
        statuses = [s for batch in pool.map(client, range(20)) for s in batch]
    assert statuses == [200] * 200


# --------------------------------------------------------------------------------------------- in Chromium


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM or not CHROMEDRIVER.exists():
        pytest.skip("headless Chromium is not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="the browser tests need selenium")
    from selenium.webdriver.chrome.service import Service

    root = tmp_path_factory.mktemp("chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1000",
        "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={root / 'profile'}",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option("prefs", {"download.default_directory": str(root / "downloads")})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(root / "downloads")}
    )
    driver.downloads = root / "downloads"
    yield driver
    driver.quit()


def wait_for(condition, timeout: float = 20.0, what: str = "the page"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_page_finds_plays_reranks_and_downloads(browser, url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    css = lambda selector: browser.find_elements(By.CSS_SELECTOR, selector)  # noqa: E731
    ids = lambda attribute="data-track-id": browser.execute_script(  # noqa: E731 (read at once: the list re-renders)
        "return [...document.querySelectorAll(`[${arguments[0]}]`)].map(e => e.getAttribute(arguments[0]))", attribute
    )
    browser.get(url)
    wait_for(lambda: css("#model-info")[0].text, what="the model summary")
    css("input[type=search]")[0].send_keys("Main Theme")
    suggestions = wait_for(lambda: css("[data-suggestion-id]"), what="suggestions")
    assert suggestions[0].get_attribute("data-suggestion-id") == "wesnoth-main-theme"
    css("input[type=search]")[0].send_keys(Keys.ENTER)
    gems = wait_for(lambda: [g for g in css("[data-track-id]") if g.text.strip()], what="gems")
    assert len(gems) >= 5 and [c.text for c in css("#chips li span")] == ["Main Theme"]
    shown = [g.get_attribute("data-track-id") for g in gems]
    expected = json.loads(get(url, "/api/recommend", like="wesnoth-main-theme")[2])
    assert shown == [p["track_id"] for p in expected]
    assert all(p["title"] in g.text and p["why"] in g.text for p, g in zip(expected, gems))

    audio = css("[data-track-id] audio")[0]
    assert audio.get_attribute("src").startswith(url.rstrip("/") + "/api/audio/")
    assert audio.get_attribute("preload") == "metadata"
    duration = wait_for(lambda: browser.execute_script("return arguments[0].duration", audio), what="audio metadata")
    assert 29 < duration < 31  # the demo's 30-second excerpts

    marks = wait_for(lambda: css("#curve svg [data-mark-id]"), what="chart marks")
    assert len(css("#curve svg polyline")) == 1 and len(css("#curve svg circle.pick")) == len(shown)
    assert [m.get_attribute("data-mark-id") for m in marks if "seed" in m.get_attribute("class")] == [
        "wesnoth-main-theme"
    ]

    discount = css("#discount")[0]  # keyboard: Home sets the slider to 0, the list re-ranks in place
    discount.send_keys(Keys.HOME)
    plain = [p["track_id"] for p in json.loads(get(url, "/api/recommend", like="wesnoth-main-theme", discount=0)[2])]
    assert plain != shown
    wait_for(lambda: ids() == plain, what="re-ranking")

    items = lambda: ids("data-playlist-id")  # noqa: E731
    flow = json.loads(get(url, "/api/playlist", like="wesnoth-main-theme", track=plain, format="json")[2])
    wait_for(lambda: items() == [e["track_id"] for e in flow], what="the playlist in flow order")
    before = items()
    css("#playlist-items li .down")[0].click()
    css("#playlist-items li .remove")[-1].click()
    assert items() == [before[1], before[0], *before[2:-1]]
    css("#dl-m3u8")[0].click()
    saved = wait_for(lambda: [p for p in browser.downloads.glob("*.m3u8")], what="the M3U8 download")[0]
    lines = wait_for(lambda: saved.read_text(encoding="utf-8").splitlines(), what="the file's lines")
    titles = {e["track_id"]: e["title"] for e in flow}
    assert lines[0] == "#EXTM3U"
    assert [x.split(" - ", 1)[1] for x in lines if x.startswith("#EXTINF:")] == [titles[t] for t in items()]

    css("input[name=mode][value=user]")[0].click()  # a listener of the model as the query, same controls
    css("#user")[0].send_keys("sim-user-0007", Keys.ENTER)
    theirs = json.loads(get(url, "/api/recommend", user="sim-user-0007", discount=0)[2])
    wait_for(lambda: ids() == [p["track_id"] for p in theirs], what="the listener's gems")
    assert css("#curve svg .seed") == [] and len(css("#curve svg circle.pick")) == len(theirs)

    phone = {"width": 375, "height": 800, "deviceScaleFactor": 2, "mobile": True}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", phone)
    assert browser.execute_script("return window.innerWidth") == 375
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 375  # nothing sticks out
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def start_serving(model: Path) -> tuple[subprocess.Popen, str]:
    """A freshly started ``gems serve --port 0`` on ``model`` and its URL."""
    command = [sys.executable, "-m", "gems.cli", "serve", "--model", str(model), "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    found = re.search(r"http://127\.0\.0\.1:\d+/", process.stdout.readline())
    if not found:
        process.kill()
        raise AssertionError(f"gems serve did not start: {process.communicate()}")
    return process, found.group(0)


def slow_network(browser, latency_ms: int) -> None:
    """Every request of the page takes ``latency_ms`` longer (0: as fast as it is)."""
    conditions = {"offline": False, "latency": latency_ms, "downloadThroughput": -1, "uploadThroughput": -1}
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", conditions)


def test_text_typed_at_once_on_a_fresh_server_is_searched_and_its_gems_play(browser, demo_model):
    """The issue's check: on a freshly started `gems serve`, a title typed into the search box at once — before
    the page has heard from /api/info (each request takes a second longer here, so it has not) — shows
    suggestions within 10 s; Enter shows gems with playable previews."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    css = lambda selector: browser.find_elements(By.CSS_SELECTOR, selector)  # noqa: E731
    process, url = start_serving(demo_model)
    try:
        slow_network(browser, 1000)
        browser.get(url)
        css("input[type=search]")[0].send_keys("Main Theme")
        assert css("#model-info")[0].text == ""  # typed before /api/info answered
        suggestions = wait_for(lambda: css("[data-suggestion-id]"), timeout=10, what="suggestions")
        assert suggestions[0].get_attribute("data-suggestion-id") == "wesnoth-main-theme"
        css("input[type=search]")[0].send_keys(Keys.ENTER)
        gems = wait_for(lambda: [g for g in css("[data-track-id]") if g.text.strip()], what="gems")
        expected = [p["track_id"] for p in ask(url, "/api/recommend", params={"like": "wesnoth-main-theme"}).json()]
        assert [g.get_attribute("data-track-id") for g in gems] == expected
        slow_network(browser, 0)
        players = css("[data-track-id] audio")
        assert players and len(players) == len(gems)
        durations = [
            wait_for(lambda a=a: browser.execute_script("return arguments[0].duration", a), what="a preview")
            for a in players[:3]
        ]
        assert all(29 < d < 31 for d in durations)
        assert browser.execute_script("return arguments[0].play().then(() => !arguments[0].paused)", players[0])
    finally:
        slow_network(browser, 0)
        process.terminate()
        process.communicate(timeout=30)


def test_the_page_uploads_an_export_with_the_servers_token(browser, url, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    css = lambda selector: browser.find_elements(By.CSS_SELECTOR, selector)  # noqa: E731
    export = tmp_path / "me.csv"
    export.write_bytes(b"user,track,plays\nme,wesnoth-main-theme,3\nme,hyperrogue-desert,1\n")
    body, headers = multipart("me.csv", export.read_bytes())
    token = ask(url, "/api/token").body.decode()
    answer = ask(
        url,
        "/api/history",
        method="POST",
        params={"format": "table"},
        headers={**headers, TOKEN_HEADER: token},
        body=body,
    )
    expected = [p["track_id"] for p in answer.json()]
    browser.get(url)
    wait_for(lambda: css("#model-info")[0].text, what="the model summary")
    css("input[name=mode][value=upload]")[0].click()
    css("#export")[0].send_keys(str(export))
    Select(css("#format")[0]).select_by_value("table")
    css("#mode-upload button[type=submit]")[0].click()

    def ids() -> list[str]:
        return browser.execute_script(
            "return [...document.querySelectorAll('[data-track-id]')].map(e => e.dataset.trackId)"
        )

    wait_for(lambda: ids() == expected, what="the upload's gems")
    assert "error" not in css("#status")[0].get_attribute("class")


def test_the_page_follows_the_models_default_scope(browser, demo_model, tmp_path):
    """A model that ranks soundtracks only by default: the page shows it, and sends no scope of its own until
    the listener picks one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    css = lambda selector: browser.find_elements(By.CSS_SELECTOR, selector)  # noqa: E731
    model = tmp_path / "soundtracks"
    shutil.copytree(demo_model, model)
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["rank_defaults"]["scope"] = "soundtrack"
    (model / "manifest.json").write_text(json.dumps(manifest))

    def asked() -> list[str]:
        urls = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        return [u for u in urls if "/api/recommend" in u]

    with running(create_app(model)) as base:
        browser.get(base)
        wait_for(lambda: css("#model-info")[0].text, what="the model summary")
        assert Select(css("#scope")[0]).first_selected_option.get_attribute("value") == "soundtrack"
        css("input[type=search]")[0].send_keys("Main Theme")
        wait_for(lambda: css("[data-suggestion-id]"), what="suggestions")
        css("input[type=search]")[0].send_keys(Keys.ENTER)
        wait_for(asked, what="a recommendation")
        assert all("scope=" not in u for u in asked()), asked()
        Select(css("#scope")[0]).select_by_value("all")
        wait_for(lambda: any("scope=all" in u for u in asked()), what="the listener's scope sent")
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def test_the_page_searches_by_sound_and_shows_only_confident_words(browser, url):
    """Words typed into "sounding like" alone give /api/recommend?sounds=...'s gems; each gem shows the words it
    holds from the stated confidence, and none below it; with a seed, the words and the seed ask together."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    css = lambda selector: browser.find_elements(By.CSS_SELECTOR, selector)  # noqa: E731
    browser.get(url)
    wait_for(lambda: css("#model-info")[0].text, what="the model summary")
    assert css("#sounds-box")[0].is_displayed() and "ambient" in css("#sound-words")[0].get_attribute("textContent")
    css("#sounds")[0].send_keys("ambient")
    expected = json.loads(get(url, "/api/recommend", sounds="ambient")[2])
    ids = lambda: browser.execute_script(  # noqa: E731
        "return [...document.querySelectorAll('[data-track-id]')].map(e => e.dataset.trackId)"
    )
    wait_for(lambda: ids() == [p["track_id"] for p in expected], what="the gems of a sound")
    confident = json.loads(get(url, "/api/info")[2])["sounds"]["confident"]
    for pick, gem in zip(expected, css("#gems > li")):
        said = [t["word"] for t in pick["tags"] if t["p"] >= confident]
        words = gem.find_elements(By.CSS_SELECTOR, ".words")
        assert [w.text for w in words] == ([f"sounds {' · '.join(said)}"] if said else [])
    assert any(gem.find_elements(By.CSS_SELECTOR, ".words") for gem in css("#gems > li"))
    css("input[type=search]")[0].send_keys("Main Theme")
    wait_for(lambda: css("[data-suggestion-id]"), what="suggestions")
    css("input[type=search]")[0].send_keys(Keys.ENTER)
    both = json.loads(get(url, "/api/recommend", like="wesnoth-main-theme", sounds="ambient")[2])
    wait_for(lambda: ids() == [p["track_id"] for p in both], what="the gems of a seed and a sound")
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
