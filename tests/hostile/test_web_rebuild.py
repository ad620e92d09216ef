"""``gems build`` swapping the model folder under a running ``gems serve``: requests in flight and after are
answered from one whole version — the old or the new, never a mix and never "rebuilt while this command read
it" — and soon from the new one, without a restart; a rebuilt folder that cannot be read, or no folder at all,
leaves the old model serving."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="gems serve needs fastapi (pip install -e '.[test]')")
from gems import serve  # noqa: E402
from gems.artifacts import swap  # noqa: E402
from gems.web import create_app, running  # noqa: E402
from listenskit import write_listens  # noqa: E402
from webkit import TOKEN_HEADER, ask, multipart  # noqa: E402

EXPORT = b"user,track,plays\nme,g0-t1,3\nme,g1-t2,1\nme,g2-t4,2\n"
USER = "u001"  # a listener of both versions
NEW_USER = "u100"  # a listener of the second version only


def build(folder: Path, listens: Path) -> Path:
    from gems.config import BuildConfig
    from gems.stages import build_model

    return build_model(BuildConfig(model=folder, listens=listens)).path


def oracle(folder: Path, export: Path) -> dict[str, list[dict]]:
    """What a fresh model of the folder answers to each query kind of :func:`queries`."""
    return answers(serve.open_model(folder), export)


def answers(model, export: Path) -> dict[str, list[dict]]:
    """What ``model`` answers to each query kind of :func:`queries`."""
    options = model.rank_defaults
    picks = {
        "user": serve.recommend(model, options, user=USER).picks,
        "like": serve.recommend(model, options, like=["g0-t1"]).picks,
        "history": serve.recommend(model, options, history=export, history_format="table").picks,
    }
    return {kind: [p.to_dict() for p in found] for kind, found in picks.items()}


def queries(url: str, token: str) -> dict[str, object]:
    body, headers = multipart("me.csv", EXPORT)
    return {
        "user": lambda: ask(url, "/api/recommend", params={"user": USER}),
        "like": lambda: ask(url, "/api/recommend", params={"like": "g0-t1"}),
        "history": lambda: ask(
            url, "/api/history", method="POST", params={"format": "table"}, headers={**headers, TOKEN_HEADER: token},
            body=body,
        ),
    }  # fmt: skip


@pytest.fixture
def versions(tmp_path) -> tuple[Path, Path, Path]:
    """(model folder built from log A, log B with other listeners and 30 more of them, the export)."""
    model = build(tmp_path / "model", write_listens(tmp_path / "a.csv", users=90, seed=0))
    export = tmp_path / "me.csv"
    export.write_bytes(EXPORT)
    return model, write_listens(tmp_path / "b.csv", users=120, seed=1), export


def wait_for(condition, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("the server never answered from the rebuilt model")


def test_a_rebuild_while_serving_answers_from_one_version_then_the_new_one(versions):
    model, second_log, export = versions
    old = oracle(model, export)
    app = create_app(model)
    seen: list[tuple[str, int, object]] = []
    stop = threading.Event()
    with running(app) as url:
        ask_kind = queries(url, app.state.token)
        assert_error_free = {kind: ask_kind[kind]() for kind in ask_kind}
        assert {kind: a.json() for kind, a in assert_error_free.items()} == old

        def client(kinds: list[str]) -> None:
            while not stop.is_set():
                for kind in kinds:
                    answer = ask_kind[kind]()
                    seen.append((kind, answer.status, answer.json()))

        threads = [
            threading.Thread(target=client, args=(kinds,)) for kinds in (["user", "like"], ["history"], ["user"])
        ]
        for thread in threads:
            thread.start()
        try:
            time.sleep(0.3)
            build(model, second_log)  # swaps the folder in place while the clients ask
            new = oracle(model, export)
            wait_for(lambda: ask_kind["user"]().json() == new["user"])
            time.sleep(0.3)
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
        assert ask(url, "/api/recommend", params={"user": NEW_USER}).status == 200
        assert ask(url, "/api/info").json()["listeners"] == 120
    assert all(old[kind] != new[kind] for kind in ("user", "history")), "the two versions must answer differently"
    assert {kind for kind, _, _ in seen} == {"user", "like", "history"} and len(seen) > 20
    problems = [(kind, status, body) for kind, status, body in seen if status != 200]
    assert problems == [], problems[:3]
    mixed = [(kind, body) for kind, _, body in seen if body not in (old[kind], new[kind])]
    assert mixed == [], json.dumps(mixed[:1])[:2000]
    assert any(body == new["user"] for kind, _, body in seen if kind == "user")


def test_a_request_holding_the_old_model_finishes_on_it_after_the_swap(versions):
    """The server's model is prepared: a query of any kind that took it before the swap reads no file of the
    new folder (the old one is deleted by then)."""
    model, second_log, export = versions
    old = oracle(model, export)
    taken = create_app(model).state.holder.model()  # as a request in flight holds it
    build(model, second_log)
    assert answers(taken, export) == old != oracle(model, export)


def test_a_rebuilt_folder_that_cannot_be_read_leaves_the_old_model_serving(versions, tmp_path, caplog):
    model, second_log, export = versions
    old = oracle(model, export)
    app = create_app(model)
    with running(app) as url:
        ask_kind = queries(url, app.state.token)
        broken = tmp_path / ".model.tmp-broken"
        shutil.copytree(model, broken)
        manifest = json.loads((broken / "manifest.json").read_text())
        manifest["format_version"] = 999
        (broken / "manifest.json").write_text(json.dumps(manifest))
        swap.replace(broken, model)  # as a build of another gems version would
        for _ in range(3):
            assert {kind: ask_kind[kind]().json() for kind in ask_kind} == old
        assert "still serving the previous model" in caplog.text and "format 999" in caplog.text
        build(model, second_log)  # a good rebuild is taken up
        new = oracle(model, export)
        wait_for(lambda: ask_kind["user"]().json() == new["user"])


def test_a_deleted_model_folder_leaves_the_old_model_serving(versions):
    model, _, export = versions
    old = oracle(model, export)
    app = create_app(model)
    with running(app) as url:
        shutil.rmtree(model)
        ask_kind = queries(url, app.state.token)
        assert {kind: ask_kind[kind]().json() for kind in ask_kind} == old
        assert ask(url, "/api/search", params={"q": "Track 3 of 1"}).json()[0]["track_id"] == "g1-t3"
