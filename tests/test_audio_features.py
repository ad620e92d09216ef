"""Feature maths on synthetic signals whose right answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from gems.audio.features import FEATURE_GROUPS, FEATURE_NAMES, PITCH_CLASSES, feature_vector, stft_magnitude

SR = 22050


def tone(freq: float, seconds: float = 3.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def clicks(bpm: float, seconds: float = 8.0) -> np.ndarray:
    """A decaying noise burst on every beat."""
    y = np.zeros(int(seconds * SR), dtype=np.float32)
    burst = np.random.default_rng(0).standard_normal(300) * np.exp(-np.arange(300) / 60.0)
    for start in np.arange(0, seconds, 60.0 / bpm):
        i = int(start * SR)
        y[i : i + 300] += burst[: len(y) - i].astype(np.float32)
    return y


def noise(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def features(y: np.ndarray) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, feature_vector(y, sr=SR)))


def test_names_and_groups_cover_every_column_once():
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert set(FEATURE_GROUPS) == {"timbre", "harmony", "rhythm", "energy"}
    covered = sorted(i for group in FEATURE_GROUPS.values() for i in range(len(FEATURE_NAMES))[group])
    assert covered == list(range(len(FEATURE_NAMES)))
    assert "rms_db_mean" in FEATURE_NAMES[FEATURE_GROUPS["energy"]]
    assert "tempo_bpm" in FEATURE_NAMES[FEATURE_GROUPS["rhythm"]]


@pytest.mark.parametrize(
    "signal",
    [
        tone(440.0),
        noise(),
        clicks(120.0, 3.0),
        np.zeros(3 * SR, np.float32),
        noise(2048 / SR),
        tone(440.0).astype(np.float64),
    ],
    ids=["tone", "noise", "clicks", "silence", "one-frame", "float64"],
)
def test_vector_is_finite_float32_of_length_d(signal):
    vector = feature_vector(signal, sr=SR)
    assert vector.dtype == np.float32
    assert vector.shape == (len(FEATURE_NAMES),)
    assert np.isfinite(vector).all()


@pytest.mark.parametrize("freq, pitch_class", [(440.0, "A"), (523.25, "C"), (329.63, "E"), (196.0, "G")])
def test_chroma_of_a_tone_peaks_at_its_pitch_class(freq, pitch_class):
    f = features(tone(freq))
    chroma = [f[f"chroma_{p}_mean"] for p in PITCH_CLASSES]
    assert PITCH_CLASSES[int(np.argmax(chroma))] == pitch_class


@pytest.mark.parametrize("bpm", [90.0, 120.0])
def test_tempo_of_a_click_train(bpm):
    f = features(clicks(bpm))
    assert f["tempo_bpm"] == pytest.approx(bpm, rel=0.04)
    assert f["pulse_clarity"] > 0.5
    assert features(noise(8.0))["pulse_clarity"] < f["pulse_clarity"] / 2


def test_white_noise_is_flatter_than_a_tone():
    assert features(noise())["spectral_flatness_mean"] > 0.3 > 100 * features(tone(440.0))["spectral_flatness_mean"]


def test_spectral_centroid_follows_the_tone():
    low, high = features(tone(500.0)), features(tone(2000.0))
    assert low["spectral_centroid_mean"] == pytest.approx(500.0, rel=0.05)
    assert high["spectral_centroid_mean"] == pytest.approx(2000.0, rel=0.05)


def test_louder_copy_is_louder_by_the_gain_and_sounds_the_same():
    y = 0.5 * tone(440.0, amplitude=0.2) + 0.5 * noise(seed=1)
    quiet, loud = feature_vector(y, sr=SR), feature_vector(4 * y, sr=SR)
    rms = FEATURE_NAMES.index("rms_db_mean")
    assert loud[rms] - quiet[rms] == pytest.approx(20 * np.log10(4), abs=0.01)
    for group in ("timbre", "harmony"):
        np.testing.assert_allclose(loud[FEATURE_GROUPS[group]], quiet[FEATURE_GROUPS[group]], rtol=1e-3, atol=1e-3)


def test_rms_of_a_full_scale_sine_is_minus_3_dbfs():
    assert features(tone(1000.0, amplitude=1.0))["rms_db_p90"] == pytest.approx(-3.01, abs=0.05)


def test_stft_of_a_bin_centred_sine():
    n_fft, k = 2048, 100
    y = tone(k * SR / n_fft, seconds=1.0, amplitude=1.0)
    S = stft_magnitude(y, n_fft=n_fft, hop_length=512)
    assert S.shape == (1 + n_fft // 2, 1 + len(y) // 512)
    middle = S[:, S.shape[1] // 2]
    assert int(np.argmax(middle)) == k
    assert middle[k] == pytest.approx(n_fft / 4, rel=1e-3)  # amplitude x sum(Hann) / 2


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros(SR, dtype=np.int16), "float32 or float64"),
        ([0.0] * SR, "float32 or float64"),
        (np.zeros((2, SR), dtype=np.float32), "mono"),
        (np.zeros(2047, dtype=np.float32), "fewer than one frame"),
        (np.r_[np.zeros(SR), np.nan].astype(np.float32), "NaN"),
    ],
    ids=["int16", "list", "stereo", "too-short", "nan"],
)
def test_invalid_input_raises_value_error(bad, message):
    with pytest.raises(ValueError, match=message):
        feature_vector(bad, sr=SR)


@pytest.mark.parametrize("kwargs", [{"sr": 0}, {"sr": SR, "hop_length": -1}, {"sr": 8000}, {"sr": SR, "n_fft": 64}])
def test_invalid_parameters_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        feature_vector(noise(), **kwargs)
