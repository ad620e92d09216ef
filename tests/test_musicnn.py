"""gems' numpy musicnn against musicnn's own code (a stored reference) and against the literal network."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from gems.audio import musicnn
from gems.audio.decode import load_excerpt
from musicnnkit import naive_forward

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).parent / "data" / "musicnn_reference.npz"
WEIGHTS = files("gems.audio") / "weights"


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE, allow_pickle=False) as stored:
        return {key: stored[key] for key in stored.files}


@pytest.fixture(scope="module")
def clip(reference) -> np.ndarray:
    """The reference clip as gems decodes it: mono, 16 kHz (soxr HQ, as librosa.load's soxr_hq)."""
    y, _ = load_excerpt(ROOT / str(reference["clip"]), sr=musicnn.SR)
    return y


@pytest.mark.parametrize("name", musicnn.MODELS)
def test_taggram_matches_musicnn_own_code_within_1e4(name, reference, clip):
    """The whole path, audio file to taggram, against musicnn 0.1.0 run under TensorFlow and NumPy 1.x
    (pipelines/musicnn_reference.py). gems computes the log-mel in float32; musicnn rounds the mel power to
    float16 first, which is the largest part of the difference (see the next test)."""
    layers = musicnn.Musicnn.load(name).forward(musicnn.patches(musicnn.log_mel(clip)))
    expected = reference[f"{name}/taggram"]
    assert layers.taggram.shape == expected.shape == (10, 50)
    assert np.abs(layers.taggram - expected).max() <= 1e-4


@pytest.mark.parametrize("name", musicnn.MODELS)
def test_given_musicnn_float16_mel_the_network_agrees_to_float32_rounding(name, reference, clip):
    """Rounding the mel power to float16 as musicnn does isolates the network: taggram within 1e-5 and the
    200-d penultimate layer (values up to ~10) within 1e-4."""
    mel16 = musicnn.mel_power(clip).astype(np.float16).astype(np.float32)
    layers = musicnn.Musicnn.load(name).forward(musicnn.patches(np.log10(10000 * mel16 + 1)))
    assert np.abs(layers.taggram - reference[f"{name}/taggram"]).max() <= 1e-5
    assert np.abs(layers.penultimate - reference[f"{name}/penultimate"]).max() <= 1e-4


@pytest.mark.parametrize("name", musicnn.MODELS)
def test_fast_forward_equals_the_literal_network(name, clip):
    """Pruned flat filters and batch norms moved after the max change nothing but float rounding: on real
    patches, on the loudest possible input (every value at the cap) and on silence-like zeros."""
    x = musicnn.patches(musicnn.log_mel(clip))[4:6]
    net = musicnn.Musicnn.load(name)
    extremes = np.stack([np.full((187, 96), net.cap, np.float32), np.zeros((187, 96), np.float32)])
    x = np.concatenate([x, extremes])
    fast = net.forward(x)
    weights = musicnn.load_weights(name)
    for p, patch in enumerate(x):
        literal = naive_forward(weights, patch)
        np.testing.assert_allclose(fast.penultimate[p], literal["penultimate"], atol=2e-4, rtol=1e-5)
        np.testing.assert_allclose(fast.taggram[p], literal["taggram"], atol=1e-5)


def test_some_filters_are_pruned_and_negative_batch_norm_scales_are_covered():
    net = musicnn.Musicnn.load("MTT_musicnn")
    assert 0 < net.live_filters < 561
    assert any((layer.sign < 0).any() for layer in net.front.values())


def test_inputs_above_the_cap_are_capped():
    net = musicnn.Musicnn.load("MSD_musicnn")
    at_cap = np.full((1, 187, 96), net.cap, np.float32)
    np.testing.assert_array_equal(net.forward(at_cap * 3).taggram, net.forward(at_cap).taggram)


def test_log_mel_is_librosa_melspectrogram_in_float32():
    import librosa

    y = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96).T
    ours = musicnn.log_mel(y)
    assert ours.dtype == np.float32 and ours.shape == (1 + 16000 // 256, 96)
    np.testing.assert_allclose(ours, np.log10(10000 * mel + 1), rtol=1e-5, atol=1e-5)


def test_a_loud_clip_stays_finite_where_float16_would_overflow():
    y = np.sin(2 * np.pi * 440 * np.arange(48000) / 16000).astype(np.float32)
    mel = musicnn.mel_power(y)
    with np.errstate(over="ignore"):
        assert np.isinf(mel.astype(np.float16) * np.float16(10000)).any()  # NumPy 2's float16 path overflows
    assert np.isfinite(musicnn.log_mel(y)).all()


@pytest.mark.parametrize("frames, count", [(1876, 10), (187, 1), (373, 1), (374, 2)])
def test_patches_are_non_overlapping_and_drop_the_remainder(frames, count):
    spectrogram = np.arange(frames * 96, dtype=np.float32).reshape(frames, 96)
    out = musicnn.patches(spectrogram)
    assert out.shape == (count, 187, 96)
    np.testing.assert_array_equal(out.reshape(-1, 96), spectrogram[: count * 187])


def test_a_clip_shorter_than_one_patch_is_repeated_to_fill_it():
    spectrogram = np.arange(50 * 96, dtype=np.float32).reshape(50, 96)
    out = musicnn.patches(spectrogram)
    assert out.shape == (1, 187, 96)
    np.testing.assert_array_equal(out[0, 50:100], spectrogram)
    np.testing.assert_array_equal(out[0, 150:187], spectrogram[:37])


@pytest.mark.parametrize("bad", [np.zeros((0, 96), np.float32), np.full((200, 96), np.nan, np.float32)])
def test_an_empty_or_non_finite_spectrogram_is_refused(bad):
    with pytest.raises(ValueError, match="finite log-mel frames"):
        musicnn.patches(bad)


def test_describe_pools_penultimate_of_both_models_and_averages_mtt_tags(clip):
    sound, tags = musicnn.describe(clip)
    x = musicnn.patches(musicnn.log_mel(clip))
    mtt, msd = (musicnn.Musicnn.load(name).forward(x) for name in musicnn.SOUND_MODELS)
    assert sound.shape == (musicnn.SOUND_DIMS,) and tags.shape == (len(musicnn.TAG_WORDS),)
    expected = np.concatenate(
        [mtt.penultimate.mean(0), mtt.penultimate.max(0), msd.penultimate.mean(0), msd.penultimate.max(0)]
    )
    np.testing.assert_allclose(sound, expected, rtol=1e-6)
    np.testing.assert_allclose(tags, mtt.taggram.mean(0), rtol=1e-6)
    assert musicnn.TAG_WORDS[int(np.argmax(tags))] in {"classical", "strings", "slow", "violin", "ambient", "quiet"}


def test_shipped_weights_match_their_provenance_and_licence():
    provenance = json.loads((WEIGHTS / "provenance.json").read_text())
    assert provenance["wheel"] == "musicnn-0.1.0-py3-none-any.whl" and "ISC" in provenance["licence"]
    for name, digest in provenance["files"].items():
        assert hashlib.sha256((WEIGHTS / name).read_bytes()).hexdigest() == digest, name
    assert "Permission to use, copy, modify" in (WEIGHTS / "LICENSE.md").read_text()
    weights = musicnn.load_weights("MTT_musicnn")
    assert all(a.dtype == np.float32 for a in weights.values())
    assert sum(a.size for a in weights.values()) == 792_079


def test_an_unknown_model_is_refused():
    with pytest.raises(ValueError, match="MTT_musicnn, MSD_musicnn"):
        musicnn.load_weights("MTT_vgg")


@pytest.mark.skipif(
    not os.environ.get("GEMS_MUSICNN_WHEEL"), reason="set GEMS_MUSICNN_WHEEL to the musicnn 0.1.0 wheel"
)
def test_the_conversion_reproduces_the_shipped_files(tmp_path):
    script = ROOT / "pipelines" / "convert_musicnn.py"
    subprocess.run([sys.executable, script, os.environ["GEMS_MUSICNN_WHEEL"], "--out", tmp_path], check=True)
    for name in ("MTT_musicnn.npz", "MSD_musicnn.npz", "LICENSE.md", "provenance.json"):
        assert (tmp_path / name).read_bytes() == (WEIGHTS / name).read_bytes(), name
