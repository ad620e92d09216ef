"""Decoding and extraction on small synthetic files: every failure mode, the content cache, worker processes."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gems.audio import extractor as extractor_module
from gems.audio.decode import AudioFileError, load_excerpt, sniff
from gems.audio.extractor import COLUMNS, ExtractionResult, FeatureExtractor, analyse_excerpt, default_cache_dir
from gems.audio.features import FEATURE_NAMES, feature_vector
from gems.audio.musicnn import SOUND_DIMS, TAG_WORDS, describe, weights_fingerprint
from gems.errors import DataError, ParameterError

SR = 44100


def signal(seconds: float, freq: float = 440.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def write(path: Path, y: np.ndarray, **kwargs) -> Path:
    sf.write(path, y, SR, **kwargs)
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> dict[str, Path]:
    """Two good files and one of each failure, keyed by the status extraction must give them."""
    folder = tmp_path_factory.mktemp("library")
    files = {
        "ok_wav": write(folder / "tone.wav", signal(3.0)),
        "ok_ogg": write(folder / "stereo.ogg", np.stack([signal(4.0, 660.0), signal(4.0, 330.0, seed=1)], axis=1)),
        "empty": folder / "empty.mp3",
        "not_audio": folder / "lyrics.mp3",
        "truncated": folder / "cut.ogg",
        "corrupt": folder / "static.flac",
        "silent": write(folder / "silence.flac", np.zeros(3 * SR, np.float32)),
        "too_short": write(folder / "blip.wav", signal(0.5)),
        "unsupported": folder / "notes.txt",
        "missing": folder / "gone.wav",
    }
    files["empty"].write_bytes(b"")
    files["not_audio"].write_text("These are the lyrics, not the song.\n")
    whole = write(folder / "whole.ogg", signal(6.0), format="OGG", subtype="VORBIS").read_bytes()
    files["truncated"].write_bytes(whole[: len(whole) // 2])
    files["corrupt"].write_bytes(b"fLaC" + np.random.default_rng(0).bytes(4000))
    files["unsupported"].write_text("track list\n")
    return files


@pytest.fixture(scope="module")
def first_run(library, tmp_path_factory) -> tuple[ExtractionResult, Path]:
    cache = tmp_path_factory.mktemp("cache")
    return FeatureExtractor(cache_dir=cache).extract(list(library.values())), cache


def test_each_failure_gets_its_own_code_and_the_good_files_succeed(library, first_run):
    result, _ = first_run
    assert result.status == ["ok" if key.startswith("ok_") else key for key in library]
    assert result.ok.tolist() == [True, True] + [False] * (len(library) - 2)
    assert np.isfinite(result.analysis[:2]).all() and np.isnan(result.analysis[2:]).all()
    assert result.features.shape == (len(library), len(FEATURE_NAMES)) and result.features.dtype == np.float32
    assert result.sound.shape == (len(library), SOUND_DIMS) and result.tags.shape == (len(library), len(TAG_WORDS))
    assert ((result.tags[:2] > 0) & (result.tags[:2] < 1)).all()
    np.testing.assert_allclose(result.source_duration_s[:2], [3.0, 4.0], atol=0.01)
    assert np.isnan(result.source_duration_s[2:]).all()


@pytest.mark.parametrize(
    "code, words",
    [
        ("empty", "0 bytes"),
        ("not_audio", 'starts with text ("These are the lyrics'),
        ("truncated", "cut short"),
        ("corrupt", "cannot be decoded"),
        ("silent", "silent"),
        ("too_short", "lasts 0.50 s, shorter than the 2 s minimum"),
        ("unsupported", "extension '.txt'"),
        ("missing", "does not exist"),
    ],
)
def test_reasons_say_what_was_found_and_what_to_do(library, first_run, code, words):
    failures = {path: (status, reason) for path, status, reason in first_run[0].failures()}
    status, reason = failures[str(library[code])]
    assert status == code
    assert words in reason
    assert str(library[code]) not in reason  # reasons are cached per content, so they never name a path
    assert any(verb in reason for verb in ("re-download", "re-export", "leave it out", "check", "replace", "convert"))


def test_second_run_is_all_cache_hits_and_decodes_nothing(library, first_run, monkeypatch):
    result, cache = first_run

    def no_decoding(*args, **kwargs):
        raise AssertionError("a cached file was decoded again")

    monkeypatch.setattr(extractor_module, "load_excerpt", no_decoding)
    again = FeatureExtractor(cache_dir=cache).extract(list(library.values()))
    assert again.extracted == 0
    assert again.cache_hits == 8  # every file with content: all but the unsupported and the missing one
    assert again.status == result.status and again.reasons == result.reasons
    np.testing.assert_array_equal(again.analysis, result.analysis)


def test_a_renamed_copy_is_a_cache_hit(library, first_run, tmp_path):
    copy = shutil.copy(library["ok_ogg"], tmp_path / "renamed.ogg")
    again = FeatureExtractor(cache_dir=first_run[1]).extract([copy])
    assert (again.cache_hits, again.extracted) == (1, 0)
    np.testing.assert_array_equal(again.analysis[0], first_run[0].analysis[1])


def test_unsupported_name_is_not_cached_by_content(library, first_run, tmp_path):
    """The same bytes under an audio name decode fine: the extension check is not a property of the content."""
    renamed = shutil.copy(library["ok_wav"], tmp_path / "tone.txt")
    result = FeatureExtractor(cache_dir=first_run[1]).extract([renamed, library["ok_wav"]])
    assert result.status == ["unsupported", "ok"]


def test_a_corrupt_cache_entry_is_recomputed(library, first_run, tmp_path):
    cache = tmp_path / "cache"
    fresh = FeatureExtractor(cache_dir=cache)
    fresh.extract([library["ok_wav"]])
    (entry,) = cache.rglob("*.npy")
    entry.write_bytes(b"\x93NUMPY garbage")
    again = fresh.extract([library["ok_wav"]])
    assert (again.cache_hits, again.extracted) == (0, 1)
    np.testing.assert_array_equal(again.analysis[0], first_run[0].analysis[0])


def test_an_entry_of_the_old_layout_is_never_read_as_a_new_one(library, first_run, tmp_path):
    """A version-1 entry ([duration, features]) placed where a current one belongs is recomputed, so old
    one-STFT vectors never stand in for sound vectors; and the current layout lives under its own fingerprint."""
    cache = tmp_path / "cache"
    fresh = FeatureExtractor(cache_dir=cache)
    fresh.extract([library["ok_wav"]])
    (entry,) = cache.rglob("*.npy")
    np.save(entry, np.concatenate([[3.0], first_run[0].features[0]]).astype(np.float64))
    again = fresh.extract([library["ok_wav"]])
    assert (again.cache_hits, again.extracted) == (0, 1)
    np.testing.assert_array_equal(again.analysis[0], first_run[0].analysis[0])


def test_the_fingerprint_follows_the_network_weights(monkeypatch):
    base = FeatureExtractor().config_fingerprint
    changed = {**weights_fingerprint(), "weights": {"MTT_musicnn": "0" * 64, "MSD_musicnn": "1" * 64}}
    monkeypatch.setattr(extractor_module, "weights_fingerprint", lambda: changed)
    assert FeatureExtractor().config_fingerprint != base


def test_the_analysis_row_is_features_then_describe(library):
    """The extractor's row is exactly feature_vector and musicnn.describe of the decoded excerpt."""
    y, _ = load_excerpt(library["ok_ogg"])
    row = analyse_excerpt(y)
    sound, tags = describe(y)
    np.testing.assert_array_equal(row[COLUMNS["features"]], feature_vector(y, sr=16000))
    np.testing.assert_array_equal(row[COLUMNS["sound"]], sound)
    np.testing.assert_array_equal(row[COLUMNS["tags"]], tags)


def test_same_content_twice_in_one_batch_is_decoded_once(library, tmp_path):
    copy = shutil.copy(library["ok_wav"], tmp_path / "again.wav")
    result = FeatureExtractor(cache_dir=tmp_path / "cache").extract([library["ok_wav"], copy])
    assert result.extracted == 1 and result.status == ["ok", "ok"]
    np.testing.assert_array_equal(result.analysis[0], result.analysis[1])


def test_two_workers_give_the_same_features_as_one(library, first_run, tmp_path):
    result = FeatureExtractor(workers=2, cache_dir=tmp_path).extract(list(library.values()))
    assert result.status == first_run[0].status and result.extracted == 8
    np.testing.assert_allclose(result.analysis, first_run[0].analysis, rtol=1e-5, atol=1e-5)


def test_a_dask_cluster_gives_the_same_features_as_one_process(library, first_run, tmp_path):
    distributed = pytest.importorskip("distributed", reason="Dask is the optional extra gems[dask]")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        extractor = FeatureExtractor(scheduler=cluster.scheduler_address, cache_dir=tmp_path)
        result = extractor.extract(list(library.values()))
    assert result.status == first_run[0].status and result.reasons == first_run[0].reasons
    assert result.extracted == 8
    np.testing.assert_array_equal(result.analysis, first_run[0].analysis)


def test_fingerprint_changes_with_the_output_parameters_only(tmp_path):
    base = FeatureExtractor().config_fingerprint
    assert FeatureExtractor(excerpt_s=10.0).config_fingerprint != base
    assert FeatureExtractor(hop_length=256).config_fingerprint != base
    assert FeatureExtractor(workers=2, cache_dir=tmp_path, show_progress=True).config_fingerprint == base


def test_to_frame_and_given_content_hashes(library, tmp_path):
    paths = [library["ok_wav"], library["empty"]]
    result = FeatureExtractor(cache_dir=tmp_path).extract(paths, content_hashes=["a" * 32, "b" * 32])
    frame = result.to_frame()
    assert list(frame.columns) == ["path", "content_hash", "status", "reason", "source_duration_s"]
    assert frame["content_hash"].tolist() == ["a" * 32, "b" * 32] and frame["status"].tolist() == ["ok", "empty"]
    with pytest.raises(ParameterError, match="1 content hashes for 2 paths"):
        FeatureExtractor(cache_dir=tmp_path).extract(paths, content_hashes=["a" * 32])


@pytest.mark.parametrize(
    "kwargs", [{"workers": 0}, {"hop_length": 512.0}, {"min_duration_s": 0.01}, {"excerpt_s": 0.01}, {"n_fft": 64}]
)
def test_bad_parameters_raise_parameter_error(kwargs, library, tmp_path):
    with pytest.raises(ParameterError):
        FeatureExtractor(cache_dir=tmp_path, **kwargs).extract([library["ok_wav"]])


def test_default_cache_dir_is_read_at_call_time(monkeypatch, tmp_path):
    monkeypatch.setenv("GEMS_CACHE_DIR", str(tmp_path / "explicit"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("GEMS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "gems"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "gems"


# --------------------------------------------------------------------------------------------- decoding


def test_load_excerpt_decodes_the_middle_window_in_mono(tmp_path):
    """10 s: 440 Hz, then 880 Hz from 4 to 6 s, then 440 Hz; left channel only, so mono has half the amplitude."""
    t = np.arange(10 * SR) / SR
    left = np.where((t >= 4) & (t < 6), np.sin(2 * np.pi * 880 * t), np.sin(2 * np.pi * 440 * t)) * 0.8
    path = write(tmp_path / "three.wav", np.stack([left, np.zeros_like(left)], axis=1).astype(np.float32))
    y, duration = load_excerpt(path, sr=22050, excerpt_s=2.0)
    assert duration == pytest.approx(10.0) and y.dtype == np.float32 and y.shape == (2 * 22050,)
    spectrum = np.abs(np.fft.rfft(y))
    assert np.fft.rfftfreq(len(y), 1 / 22050)[np.argmax(spectrum)] == pytest.approx(880.0, abs=1.0)
    assert np.abs(y).max() == pytest.approx(0.4, rel=0.02)
    whole, _ = load_excerpt(path, sr=22050, excerpt_s=0)
    assert len(whole) == 10 * 22050


def test_an_ogg_cut_at_a_page_boundary_lacks_its_end_of_stream_page(tmp_path):
    whole = write(tmp_path / "whole.ogg", signal(6.0), format="OGG", subtype="VORBIS").read_bytes()
    cut = tmp_path / "cut.ogg"
    cut.write_bytes(whole[: whole.rfind(b"OggS")])  # drop the last page, keep every complete one before it
    with pytest.raises(AudioFileError, match="no end-of-stream page") as caught:
        load_excerpt(cut)
    assert caught.value.code == "truncated"


def test_a_tag_appended_to_an_ogg_file_is_tolerated(tmp_path):
    path = write(tmp_path / "tagged.ogg", signal(3.0), format="OGG", subtype="VORBIS")
    path.write_bytes(path.read_bytes() + b"TAG" + bytes(125))  # an ID3v1 tag, as some taggers append
    _, duration = load_excerpt(path)
    assert duration == pytest.approx(3.0, abs=0.01)


def test_audio_file_error_is_a_data_error_that_pickles(library):
    with pytest.raises(AudioFileError) as caught:
        load_excerpt(library["not_audio"])
    error = caught.value
    assert isinstance(error, DataError) and str(error).startswith(str(library["not_audio"]))
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.code, copy.reason) == (error.path, error.code, error.reason)


@pytest.mark.parametrize(
    "head, kind",
    [
        (b"OggS\x00\x02", "ogg"),
        (b"fLaC\x00", "flac"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),
        (b"ID3\x04", "mp3"),
        (b"\xff\xfb\x90\x00", "mp3"),
        (b"RIFF\x24\x00\x00\x00AVI ", None),
        (b"hello", None),
        (b"", None),
    ],
)
def test_sniff_recognises_audio_containers(head, kind):
    assert sniff(head) == kind
