"""The sound space and the words, end to end on real demo excerpts: `gems build` and `gems extract` give the same
vectors, the model folder holds each track's tag probabilities, and a clip shorter than one patch is kept."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from gems.audio.extractor import FeatureExtractor
from gems.audio.musicnn import SOUND_DIMS, TAG_WORDS
from gems.cli import main
from gems.model import Model

EXCERPTS = ["wesnoth/main-theme.ogg", "wesnoth/sad.ogg", "hyperrogue/desert.ogg", "singularity/through-space.ogg"]


@pytest.fixture(scope="module")
def folder(demo_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("music")
    for relative in EXCERPTS:
        source = demo_dir / "audio" / relative
        if not source.exists():
            pytest.skip(f"demo excerpt {source} is missing")
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, root / relative)
    (root / "broken.ogg").write_bytes((root / EXCERPTS[0]).read_bytes()[:5000])
    return root


@pytest.fixture(scope="module")
def built(folder, tmp_path_factory):
    model = tmp_path_factory.mktemp("model") / "m"
    assert main(["build", "--audio", str(folder), "--model", str(model), "--no-progress"]) == 0
    out = tmp_path_factory.mktemp("extract") / "e.parquet"
    assert main(["extract", str(folder), "--out", str(out), "--no-progress"]) == 0
    return Model(model), pq.read_table(out).to_pandas()


def test_build_and_extract_give_each_file_the_same_unit_sound_vector(built):
    model, table = built
    audio = model.spaces["audio"]
    assert audio.vectors.shape == (4, SOUND_DIMS)
    by_path = {path: vector for path, vector, status in zip(table["path"], table["embedding"], table["status"])}
    for row, position in enumerate(audio.position):
        if position >= 0:
            extracted = np.asarray(by_path[model.paths[row]], dtype=np.float32)
            np.testing.assert_allclose(np.asarray(audio.vectors[position]), extracted, atol=1e-6)
            assert np.linalg.norm(extracted) == pytest.approx(1.0, abs=1e-5)
    assert table.loc[table["status"] != "ok", "embedding"].isna().all()


def test_the_model_holds_the_tag_probabilities_and_their_words(built):
    model, table = built
    tags = model.tags
    assert tags.words == TAG_WORDS and tags.probs.shape == (4, 50)
    assert ((np.asarray(tags.probs) > 0) & (np.asarray(tags.probs) < 1)).all()
    row = next(r for r in range(model.n_tracks) if model.paths[r].endswith("main-theme.ogg"))
    words = tags.of(row)
    assert [w for w, _ in words] != list(TAG_WORDS) and sorted(words, key=lambda wp: -wp[1]) == words
    extracted = table.loc[table["path"] == model.paths[row], "tags"].iloc[0]
    np.testing.assert_allclose(dict(words)[TAG_WORDS[0]], extracted[0], atol=1e-6)


def test_a_track_without_analysed_audio_has_no_words(built):
    model, _ = built
    missing = np.flatnonzero(model.tags.position < 0)
    if not len(missing):
        pytest.skip("the broken file did not become a catalogue track")
    assert model.tags.of(int(missing[0])) == []


def test_a_clip_shorter_than_one_patch_is_repeated_not_dropped(tmp_path):
    t = np.arange(int(2.5 * 44100)) / 44100
    sf.write(tmp_path / "short.wav", (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 44100)
    result = FeatureExtractor(cache_dir=tmp_path / "cache").extract([tmp_path / "short.wav"])
    assert result.status == ["ok"]
    assert np.isfinite(result.sound).all() and np.isfinite(result.tags).all()
