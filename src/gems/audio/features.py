"""Audio features as pure functions on arrays: one STFT per excerpt, every feature derived from it.

:func:`feature_vector` turns a mono signal into a fixed-length vector of ``D = len(FEATURE_NAMES)`` summary
statistics in four groups (``FEATURE_GROUPS``):

- ``timbre``: MFCC 1-13 (mean, std), delta-MFCC 1-13 (std), spectral centroid / bandwidth / rolloff /
  flatness (mean, std), spectral contrast in 7 octave bands (mean). MFCC 0 is left out: it is overall level,
  which the energy group measures, so timbre does not change when a track is played louder.
- ``harmony``: chroma (12 pitch classes, mean) and tonnetz (6 dims, mean and std).
- ``rhythm``: tempo and pulse clarity from the autocorrelation of the onset-strength envelope, onset strength
  (mean, std) and onset rate.
- ``energy``: frame RMS level in dBFS (mean, std, 10th and 90th percentile), dynamic range and low-energy
  ratio.

Only :func:`librosa.filters.mel` is used from librosa: the rest of librosa's feature code imports modules
whose numba functions compile at import (~20 s on a fresh machine, ~1 s per process with a warm cache), while
the numpy/scipy formulas below cost a few milliseconds per 30-s excerpt.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

FMAX = 8000.0  # Hz: spectral features look below this (VGGish's choice); see feature_vector
N_MELS = 64
N_MFCC = 13
CONTRAST_FMIN = 200.0  # Hz: lower edge of the second contrast band; bands are octaves above it
CONTRAST_BANDS = 6  # octave bands above CONTRAST_FMIN, plus one band below it
ROLLOFF = 0.85
TEMPO_RANGE = (40.0, 240.0)  # BPM searched
TEMPO_PRIOR = (120.0, 1.0)  # log-normal prior on tempo: centre in BPM, spread in octaves (librosa's defaults)
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_AMIN = 1e-10  # power floor before taking logs
_TOP_DB = 80.0  # log-mel values are clipped to this many dB below the excerpt's loudest value
_DB = 10.0 / np.log(10.0)  # power ratio to dB through np.log, 3x faster than np.log10 on float32


def _names() -> tuple[tuple[str, ...], dict[str, slice]]:
    mfcc = range(1, N_MFCC + 1)
    spectral = ("spectral_centroid", "spectral_bandwidth", "spectral_rolloff", "spectral_flatness")
    groups = {
        "timbre": [f"mfcc{k}_mean" for k in mfcc]
        + [f"mfcc{k}_std" for k in mfcc]
        + [f"mfcc{k}_delta_std" for k in mfcc]
        + [f"{s}_{stat}" for s in spectral for stat in ("mean", "std")]
        + [f"spectral_contrast{b}_mean" for b in range(CONTRAST_BANDS + 1)],
        "harmony": [f"chroma_{p}_mean" for p in PITCH_CLASSES]
        + [f"tonnetz{k}_{stat}" for stat in ("mean", "std") for k in range(6)],
        "rhythm": ["tempo_bpm", "pulse_clarity", "onset_strength_mean", "onset_strength_std", "onset_rate"],
        "energy": ["rms_db_mean", "rms_db_std", "rms_db_p10", "rms_db_p90", "dynamic_range_db", "low_energy_ratio"],
    }
    names, slices, start = [], {}, 0
    for group, cols in groups.items():
        names += cols
        slices[group] = slice(start, start + len(cols))
        start += len(cols)
    return tuple(names), slices


FEATURE_NAMES, FEATURE_GROUPS = _names()


# --------------------------------------------------------------------------------------------- filterbanks


@lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    """Periodic Hann window 0.5 - 0.5 cos(2 pi n / n_fft), shape (n_fft,), float32."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


@lru_cache(maxsize=8)
def _frequencies(sr: int, n_fft: int) -> np.ndarray:
    """Centre frequency in Hz of each rfft bin, shape (1 + n_fft // 2,), float32."""
    return np.fft.rfftfreq(n_fft, 1.0 / sr).astype(np.float32)


@lru_cache(maxsize=8)
def _bands(sr: int, n_fft: int) -> tuple[int, list[slice]]:
    """Number of rfft bins below FMAX, and the bins of each spectral-contrast band (slices of those)."""
    freqs = _frequencies(sr, n_fft)
    n_low = int(np.searchsorted(freqs, FMAX, side="right"))
    edges = [0.0] + [CONTRAST_FMIN * 2**b for b in range(CONTRAST_BANDS)] + [np.inf]
    bins = [np.searchsorted(freqs[:n_low], edge) for edge in edges[:-1]] + [n_low]
    return n_low, [slice(a, b) for a, b in zip(bins[:-1], bins[1:])]


@lru_cache(maxsize=8)
def mel_basis(sr: int, n_fft: int) -> np.ndarray:
    """Slaney-normalised mel filterbank (librosa), shape (N_MELS, 1 + n_fft // 2), float32."""
    import warnings

    import librosa.filters

    with warnings.catch_warnings():  # too coarse a resolution is reported by _check, with what to do
        warnings.simplefilter("ignore", UserWarning)
        fmax = min(FMAX, sr / 2)
        return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=N_MELS, fmax=fmax, dtype=np.float32)


@lru_cache(maxsize=8)
def chroma_basis(sr: int, n_fft: int) -> np.ndarray:
    """Pitch-class weights of each rfft bin, shape (12, 1 + n_fft // 2), float32 (row 0 is C).

    librosa's ``filters.chroma`` formula (Ellis): bin k at pitch p_k (semitones above C, fractional) gets the
    weight exp(-0.5 (2 d / w_k)^2) for pitch class c, d the circular distance from p_k to c and w_k the
    bin's width in semitones (at least 1); columns are L2-normalised, then weighted by a Gaussian over octaves
    centred on 880 Hz with a spread of 2 octaves. The DC bin gets no weight.
    """
    freqs = _frequencies(sr, n_fft)[1:].astype(np.float64)
    pitch = 12.0 * np.log2(freqs / 440.0) + 9.0  # A4 = 440 Hz is pitch class 9 (A)
    width = np.maximum(np.diff(pitch, prepend=pitch[0] - 1.0), 1.0)
    dist = np.remainder(pitch[None, :] - np.arange(12)[:, None] + 6.0, 12.0) - 6.0
    weights = np.exp(-0.5 * (2.0 * dist / width) ** 2)
    weights /= np.linalg.norm(weights, axis=0, keepdims=True)
    weights *= np.exp(-0.5 * (np.log2(freqs / 880.0) / 2.0) ** 2)
    return np.hstack([np.zeros((12, 1)), weights]).astype(np.float32)


def _tonnetz_basis() -> np.ndarray:
    """Harte et al. (2006) tonal centroids, shape (6, 12): fifths, minor and major thirds (cos, sin)."""
    angles = np.outer([7 / 6, 7 / 6, 3 / 2, 3 / 2, 2 / 3, 2 / 3], np.arange(12.0))
    angles[::2] -= 0.5
    return np.array([1, 1, 1, 1, 0.5, 0.5])[:, None] * np.cos(np.pi * angles)


_TONNETZ = _tonnetz_basis().astype(np.float32)


# --------------------------------------------------------------------------------------------- the maths


def _check(y: np.ndarray, sr: int, n_fft: int, hop_length: int) -> None:
    if not isinstance(y, np.ndarray) or y.dtype not in (np.float32, np.float64):
        kind = y.dtype if isinstance(y, np.ndarray) else type(y).__name__
        raise ValueError(
            f"audio must be a float32 or float64 numpy array, got {kind}; convert with y.astype(np.float32)"
        )
    if y.ndim != 1:
        raise ValueError(f"audio must be mono, shape (n,), got shape {y.shape}; downmix channels first")
    for name, value in (("sr", sr), ("n_fft", n_fft), ("hop_length", hop_length)):
        if not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    empty_band = any(band.stop <= band.start for band in _bands(sr, n_fft)[1])
    if empty_band or not mel_basis(sr, n_fft).any(axis=1).all():
        raise ValueError(
            f"sr={sr} Hz with n_fft={n_fft} leaves some of the {N_MELS} mel bands or {CONTRAST_BANDS + 1} "
            f"contrast bands below {FMAX:g} Hz without an FFT bin; use sr >= 16000 and n_fft >= sr / 90 "
            "(256 at 22050 Hz)"
        )
    if y.size < n_fft:
        raise ValueError(
            f"audio has {y.size} samples, fewer than one frame (n_fft={n_fft}); pass at least {n_fft} samples"
        )
    if not np.isfinite(y).all():
        raise ValueError("audio contains NaN or infinite samples; decode it again or drop the clip")


def stft_magnitude(y: np.ndarray, *, n_fft: int = 2048, hop_length: int = 512) -> np.ndarray:
    """|STFT| of ``y`` (n,), Hann window, frames centred (zero-padded by n_fft // 2 at both ends).

    Returns shape (1 + n_fft // 2, 1 + n // hop_length), float32 (a transposed view of a C-contiguous array).
    """
    import scipy.fft  # here, not at the top: importing the feature names must stay cheap

    padded = np.pad(y.astype(np.float32, copy=False), n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    return np.abs(scipy.fft.rfft(frames * _window(n_fft), axis=-1, overwrite_x=True)).T


def _spectral_shape(S: np.ndarray, power: np.ndarray, freqs: np.ndarray) -> list[np.ndarray]:
    """Per-frame centroid, bandwidth, rolloff (Hz), flatness of magnitudes S = sqrt(power) (F, T), each (T,).

    centroid c = sum_k f_k S_k / sum_k S_k; bandwidth = sqrt(sum_k (f_k - c)^2 S_k / sum_k S_k);
    rolloff = lowest f_k holding ROLLOFF of the frame's magnitude; flatness = geometric / arithmetic mean of
    the power S^2 (floored at 1e-10): 1 for white noise, near 0 for a tone.
    """
    total = S.sum(axis=0)
    safe = np.where(total > 0, total, 1.0)
    centroid = (freqs @ S) / safe
    bandwidth = np.sqrt(np.maximum((freqs**2 @ S) / safe - centroid**2, 0.0))
    below = (np.cumsum(S, axis=0) < ROLLOFF * total).sum(axis=0)
    rolloff = freqs[np.minimum(below, len(freqs) - 1)]
    power = np.maximum(power, _AMIN)
    flatness = np.exp(np.log(power).mean(axis=0)) / power.mean(axis=0)
    return [centroid, bandwidth, rolloff, flatness]


def _contrast(S: np.ndarray, bands: list[slice]) -> np.ndarray:
    """Spectral contrast (Jiang et al. 2002) of magnitudes S (F, T) in ``bands``: shape (len(bands), T), dB.

    In each band and frame, contrast = 20 log10(peak / valley), peak and valley the mean of the top and bottom
    2% of magnitudes. Sorting runs along rows of ``S.T`` (contiguous when S is from :func:`stft_magnitude`).
    """
    out = np.empty((len(bands), S.shape[1]), dtype=np.float32)
    for i, band in enumerate(bands):
        ranked = np.sort(S.T[:, band], axis=1)
        q = max(1, round(0.02 * ranked.shape[1]))
        peak, valley = ranked[:, -q:].mean(axis=1), ranked[:, :q].mean(axis=1)
        out[i] = np.log(np.maximum(peak, _AMIN) / np.maximum(valley, _AMIN))
    return (20.0 / np.log(10.0)) * out


def _tempo(onset: np.ndarray, frame_rate: float) -> tuple[float, float]:
    """Tempo (BPM) and pulse clarity from the autocorrelation r of the mean-removed onset envelope (T,).

    The tempo is the lag in TEMPO_RANGE maximising r(lag) times a log-normal prior (TEMPO_PRIOR), refined by
    parabolic interpolation; pulse clarity is r(lag) / r(0). With no pulse (r(lag) <= 0, a flat envelope, or
    an envelope shorter than one period of the slowest tempo) the result is the prior's centre and clarity 0.
    """
    import scipy.fft

    centre, octaves = TEMPO_PRIOR
    x = onset - onset.mean()
    n = len(x)
    r = scipy.fft.irfft(np.abs(scipy.fft.rfft(x, 2 * n)) ** 2)[:n]
    lo = max(2, int(np.ceil(60.0 * frame_rate / TEMPO_RANGE[1])))
    hi = min(n - 2, int(60.0 * frame_rate / TEMPO_RANGE[0]))
    if hi <= lo or r[0] <= 0:
        return centre, 0.0
    lags = np.arange(lo, hi + 1)
    prior = np.exp(-0.5 * (np.log2(60.0 * frame_rate / lags / centre) / octaves) ** 2)
    best = int(lags[np.argmax(r[lags] * prior)])
    a, b, c = r[best - 1], r[best], r[best + 1]
    if b <= 0:
        return centre, 0.0
    shift = float(np.clip(0.5 * (a - c) / (a - 2 * b + c), -0.5, 0.5)) if a - 2 * b + c < 0 else 0.0
    return float(np.clip(60.0 * frame_rate / (best + shift), *TEMPO_RANGE)), float(b / r[0])


def feature_vector(y: np.ndarray, *, sr: int, n_fft: int = 2048, hop_length: int = 512) -> np.ndarray:
    """Summary features of a mono signal ``y`` (n,) at ``sr`` Hz: shape (D,), float32, finite.

    Columns are named by FEATURE_NAMES and grouped by FEATURE_GROUPS. Raises ValueError for a non-float or
    non-1-D array, non-finite samples, non-positive parameters, or fewer than ``n_fft`` samples.
    """
    import scipy.fft
    import scipy.signal

    _check(y, sr, n_fft, hop_length)
    S = stft_magnitude(y, n_fft=n_fft, hop_length=hop_length)  # (F, T)
    power = S * S
    # Timbre and harmony look below FMAX only: above it lie the resampler's and the codecs' low-pass edges,
    # which would make tracks look alike by how they were encoded rather than by how they sound.
    n_low, bands = _bands(sr, n_fft)
    S_low, power_low = S[:n_low], power[:n_low]
    frame_rate = sr / hop_length
    stats = []

    # timbre
    log_mel = _DB * np.log(np.maximum(mel_basis(sr, n_fft)[:, :n_low] @ power_low, _AMIN))  # (N_MELS, T), dB
    log_mel = np.maximum(log_mel, log_mel.max() - _TOP_DB)
    mfcc = scipy.fft.dct(log_mel, type=2, norm="ortho", axis=0)[1 : N_MFCC + 1]
    enough = mfcc.shape[1] >= 9  # frames for a 9-frame Savitzky-Golay slope, librosa.feature.delta's default
    delta = scipy.signal.savgol_filter(mfcc, 9, 1, deriv=1, axis=-1, mode="interp") if enough else 0 * mfcc
    stats += [mfcc.mean(axis=1), mfcc.std(axis=1), delta.std(axis=1)]
    for values in _spectral_shape(S_low, power_low, _frequencies(sr, n_fft)[:n_low]):
        stats += [[values.mean(), values.std()]]
    stats.append(_contrast(S_low, bands).mean(axis=1))

    # harmony: chroma normalised to max 1 per frame (silent frames stay 0), tonnetz of L1-normalised chroma
    chroma = chroma_basis(sr, n_fft)[:, :n_low] @ power_low
    peak = chroma.max(axis=0)
    chroma /= np.where(peak > 0, peak, 1.0)
    l1 = chroma.sum(axis=0)
    tonnetz = _TONNETZ @ (chroma / np.where(l1 > 0, l1, 1.0))
    stats += [chroma.mean(axis=1), tonnetz.mean(axis=1), tonnetz.std(axis=1)]

    # rhythm: onset strength = mean over mel bands of the rise in dB since the previous frame (librosa's
    # onset_strength); onset rate counts its peaks at least 50 ms apart that stand out by 10% of its range
    onset = np.concatenate([[0.0], np.maximum(np.diff(log_mel, axis=1), 0.0).mean(axis=0)])
    tempo, clarity = _tempo(onset, frame_rate)
    spread = onset.max() - onset.min()
    gap = max(1, round(0.05 * frame_rate))
    peaks, _ = scipy.signal.find_peaks(onset, prominence=0.1 * spread, distance=gap)
    stats.append([tempo, clarity, onset.mean(), onset.std(), len(peaks) * frame_rate / len(onset)])

    # energy: frame RMS by Parseval (the full spectrum counts bins 1..n_fft/2-1 twice), divided by the
    # window's energy: mean x^2 over a frame = sum_full |X_k|^2 / (n_fft sum w^2); full-scale sine: -3 dBFS
    energy = 2.0 * power.sum(axis=0) - power[0] - (power[-1] if n_fft % 2 == 0 else 0.0)
    rms_db = _DB * np.log(np.maximum(energy / (n_fft * float(_window(n_fft) @ _window(n_fft))), 1e-10))
    p5, p10, p90, p95 = np.percentile(rms_db, [5, 10, 90, 95])
    rms = 10.0 ** (rms_db / 20.0)
    stats.append([rms_db.mean(), rms_db.std(), p10, p90, p95 - p5, np.mean(rms < rms.mean())])

    return np.concatenate([np.asarray(s, dtype=np.float32).ravel() for s in stats])
