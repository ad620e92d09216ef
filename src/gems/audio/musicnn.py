"""musicnn (Pons & Serra, ISMIR 2019 LBD; MTG-UPF, ISC licence) in numpy: log-mel patches -> tags and embeddings.

The weights are musicnn 0.1.0's trained checkpoints, converted once by ``pipelines/convert_musicnn.py`` into
``gems/audio/weights/`` (with the licence and a provenance file); nothing is downloaded and TensorFlow is never
imported. ``tests/test_musicnn.py`` compares this forward pass with musicnn's own code on a demo clip.

Input, exactly as musicnn trained: mono 16 kHz, power STFT (n_fft 512, hop 256, periodic Hann, frames centred
with zero padding), 96 Slaney-normalised mel bands from 0 to 8 kHz, ``log10(10000 · mel + 1)`` in float32
(musicnn's own code rounds the mel power to float16 first, which under NumPy 2 overflows), cut into
non-overlapping 3-s patches of 187 frames (the frames after the last whole patch are dropped, as musicnn does);
a clip shorter than one patch is repeated until it fills one (musicnn's "repeat-pad").

The network (per patch, time × mel): batch norm; a timbral front-end (conv 7 × 38 and 7 × 67, 204 filters each)
and a temporal one (conv 128/64/32 × 1, 51 filters each), each ReLU -> batch norm -> max over frequency; three
mid-end convs (7 × 561 -> 64, 7 × 64 -> 64 twice, ReLU -> batch norm, residual); max and mean over time of all
753 channels; batch norm -> dense 200 (ReLU) -> batch norm = ``penultimate``; dense 50 -> sigmoid = ``taggram``.

Two exact rewrites make it ~2x faster than the literal network (``tests/musicnnkit.py`` keeps the literal one):

- A front-end batch norm ``a·h + b`` follows the ReLU and precedes the max over frequency; it is applied after
  the max instead (on 187 values per channel, not 187 × 59): ``max_f(a·relu(u_f) + b) = a·relu(max_f u_f) + b``
  for a ≥ 0, and with ``min_f`` for a < 0 (computed as a max with the filter negated).
- Front-end filters whose output cannot move by more than ``FLAT`` (1e-7) are constants, not convolutions:
  training left their weights at ~1e-30, so |a|·Σ|w|·max|input| bounds the change. Of the 561 front-end
  channels MTT keeps 334 (timbral 124 + 84, temporal 39 + 39 + 48) and MSD 64 (23 + 14, 3 + 7 + 17). The bound
  holds for any log-mel value up to :func:`log_mel_cap` (8.55: the most samples within ±``PEAK`` can give), and
  inputs are capped there.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH_FRAMES = 187  # 3 s: musicnn's training input
BN_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization's default
PEAK = 4.0  # +12 dBFS: no decoded file reaches it; log-mel inputs are capped at what it could give
FLAT = 1e-7
MODELS = ("MTT_musicnn", "MSD_musicnn")
TIMBRAL = {"timbral74": 38, "timbral77": 67}  # filter widths in mel bands (int(0.4 · 96), int(0.7 · 96))
TEMPORAL = ("temporal128", "temporal64", "temporal32")
MIDEND = ("midend1", "midend2", "midend3")
FRONTEND = (*TIMBRAL, *TEMPORAL)

TAG_WORDS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
    "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing",
    "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop",
    "soft", "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice",
    "female vocal", "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip
"""The 50 MagnaTagATune words of ``MTT_musicnn``'s taggram, in its column order: the words gems stores per
track (``describe``) and the vocabulary a search by sound accepts."""


# --------------------------------------------------------------------------------------------- input


@lru_cache(maxsize=1)
def mel_basis() -> np.ndarray:
    """Slaney mel filterbank, 96 bands from 0 to 8 kHz for a 512-point FFT at 16 kHz: shape (96, 257) float32."""
    import librosa.filters

    return librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, dtype=np.float32)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def mel_power(y: np.ndarray) -> np.ndarray:
    """Mel power spectrogram of mono 16-kHz samples ``y`` (n,): shape (1 + n // 256, 96) float32."""
    import scipy.fft

    padded = np.pad(np.asarray(y, dtype=np.float32), N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP] * _window()
    spectrum = scipy.fft.rfft(frames, axis=-1, overwrite_x=True)
    power = spectrum.real**2 + spectrum.imag**2
    return power @ mel_basis().T


def log_mel(y: np.ndarray) -> np.ndarray:
    """musicnn's input: ``log10(10000 · mel_power(y) + 1)`` in float32, shape (1 + n // 256, 96)."""
    return np.log10(np.float32(10000.0) * mel_power(y) + np.float32(1.0))


def patches(spectrogram: np.ndarray) -> np.ndarray:
    """Non-overlapping patches of a (T, 96) log-mel: shape (max(1, T // 187), 187, 96); a clip shorter than one
    patch is repeated to fill it. Raises ValueError for an empty or non-finite spectrogram."""
    frames = len(spectrogram)
    if frames == 0 or not np.isfinite(spectrogram).all():
        raise ValueError(f"a musicnn input needs finite log-mel frames, got shape {spectrogram.shape}")
    if frames < PATCH_FRAMES:
        spectrogram = np.tile(spectrogram, (-(-PATCH_FRAMES // frames), 1))[:PATCH_FRAMES]
    count = len(spectrogram) // PATCH_FRAMES
    return np.ascontiguousarray(spectrogram[: count * PATCH_FRAMES].reshape(count, PATCH_FRAMES, N_MELS))


def log_mel_cap() -> float:
    """The largest log-mel value samples within ±PEAK can give: |STFT bin| ≤ PEAK · Σ window = PEAK · 256."""
    largest_mel = float(mel_basis().sum(axis=1).max()) * (PEAK * _window().sum()) ** 2
    return float(np.log10(10000.0 * largest_mel + 1.0))


# --------------------------------------------------------------------------------------------- weights


def batch_norm(weights, layer: str) -> tuple[np.ndarray, np.ndarray]:
    """A batch norm at inference as ``a · x + b``: a = γ / √(σ² + ε), b = β − a · μ (float32)."""
    prefix = f"{layer}.bn."
    a = weights[prefix + "gamma"] / np.sqrt(weights[prefix + "variance"] + np.float32(BN_EPSILON))
    return a.astype(np.float32), (weights[prefix + "beta"] - a * weights[prefix + "mean"]).astype(np.float32)


def load_weights(name: str) -> dict[str, np.ndarray]:
    """The converted weights of ``name`` (one of MODELS), float32 arrays by key (pipelines/convert_musicnn.py)."""
    from importlib.resources import files

    if name not in MODELS:
        raise ValueError(f"unknown musicnn model {name!r}; expected one of {', '.join(MODELS)}")
    with (files("gems.audio") / "weights" / f"{name}.npz").open("rb") as f, np.load(f, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


@dataclass
class _FrontLayer:
    """One front-end conv as it is run: live filters only (negated where the batch norm's scale is negative),
    ``sign`` ±1 per live filter, the batch norm ``a``, ``b`` of the live filters, and the live channels'
    positions among the layer's filters."""

    kernel: np.ndarray  # (taps, live)
    bias: np.ndarray
    sign: np.ndarray
    a: np.ndarray
    b: np.ndarray
    live: np.ndarray


@dataclass
class Layers:
    """A batch of P patches through musicnn: ``pooled`` (P, 1506) the batch-normed max/mean-pooled mid-end
    (max and mean interleaved per channel), ``penultimate`` (P, 200), ``taggram`` (P, 50) sigmoid outputs."""

    pooled: np.ndarray
    penultimate: np.ndarray
    taggram: np.ndarray


class Musicnn:
    """One musicnn model prepared for inference (see the module docstring). ``Musicnn.load(name)`` is cached."""

    def __init__(self, weights: dict[str, np.ndarray]):
        self.weights = weights
        self.input_a, self.input_b = (float(v[0]) for v in batch_norm(weights, "input_bn"))
        self.cap = log_mel_cap()
        z = sorted([self.input_b, self.input_a * self.cap + self.input_b])  # the range of normalised inputs
        reach = max(abs(z[0]), abs(z[1]))
        self.front: dict[str, _FrontLayer] = {}
        self.offsets: dict[str, int] = {}
        constants = []
        for layer in FRONTEND:
            self.offsets[layer] = sum(len(c) for c in constants)
            kernel = weights[f"{layer}.kernel"].reshape(-1, weights[f"{layer}.kernel"].shape[-1])
            bias = weights[f"{layer}.bias"]
            a, b = batch_norm(weights, layer)
            flat = np.abs(a) * np.abs(kernel).sum(axis=0) * reach <= FLAT
            live = np.flatnonzero(~flat)
            sign = np.where(a[live] < 0, -1.0, 1.0).astype(np.float32)
            self.front[layer] = _FrontLayer(
                np.ascontiguousarray(kernel[:, live] * sign), bias[live] * sign, sign, a[live], b[live], live
            )
            constants.append(np.where(flat, a * np.maximum(bias, 0) + b, 0).astype(np.float32))
        self.front_constants = np.concatenate(constants)  # (561,): the flat channels' value, 0 for live ones
        self.live_channels = np.concatenate([self.offsets[layer] + self.front[layer].live for layer in FRONTEND])
        self.midend = [
            (weights[f"{m}.kernel"].reshape(-1, 64), weights[f"{m}.bias"], *batch_norm(weights, m)) for m in MIDEND
        ]
        self.midend[0] = (
            *self._first_midend(weights["midend1.kernel"][:, :, 0, :], weights["midend1.bias"]),
            *self.midend[0][2:],
        )
        a, b = batch_norm(weights, "pool_bn")
        self.pool_a, self.pool_b = a, b
        self.dense = weights["penultimate.kernel"], weights["penultimate.bias"], *batch_norm(weights, "penultimate")
        self.output = weights["output.kernel"], weights["output.bias"]

    def _first_midend(self, kernel: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The first mid-end conv (7 × 561 -> 64) on the live front-end channels only: kernel (7 · live, 64), and
        a bias per frame (187, 64) that adds the constant channels' share — the same at every frame but the
        first and last three, where the conv's zero padding replaces part of it."""
        per_tap = np.einsum("c,dco->do", self.front_constants, kernel)  # (7, 64): the constants through each tap
        source = np.arange(PATCH_FRAMES)[:, None] + np.arange(7)[None, :] - 3  # the frame each tap reads
        inside = ((source >= 0) & (source < PATCH_FRAMES)).astype(np.float32)
        live_kernel = kernel[:, self.live_channels, :].reshape(-1, kernel.shape[-1])
        return np.ascontiguousarray(live_kernel), (bias + inside @ per_tap).astype(np.float32)

    @classmethod
    @lru_cache(maxsize=2)
    def load(cls, name: str) -> Musicnn:
        return cls(load_weights(name))

    @property
    def live_filters(self) -> int:
        return sum(len(layer.live) for layer in self.front.values())

    def _front_end(self, z: np.ndarray) -> np.ndarray:
        """Normalised patches (P, 187, 96) -> the front-end's 561 channels (P, 187, 561)."""
        out = np.empty((len(z), PATCH_FRAMES, len(self.front_constants)), dtype=np.float32)
        out[:] = self.front_constants
        timbral = np.pad(z, ((0, 0), (3, 3), (0, 0)))
        temporal = np.pad(z, ((0, 0), (63, 64), (0, 0))).transpose(0, 2, 1)  # TF "same" for 128 taps: 63 | 64
        for p, channels in enumerate(out):  # one patch at a time: an im2col is up to 187 · 59 × 266 floats
            for layer, width in TIMBRAL.items():
                windows = np.lib.stride_tricks.sliding_window_view(timbral[p], (7, width))  # (187, bands, 7, w)
                columns = windows.reshape(-1, 7 * width) @ self.front[layer].kernel
                self._activate(columns.reshape(PATCH_FRAMES, -1, columns.shape[1]).max(axis=1), layer, channels)
            windows = np.lib.stride_tricks.sliding_window_view(temporal[p], 128, axis=-1)  # (96, 187, 128)
            columns = np.ascontiguousarray(windows).reshape(-1, 128)
            for layer in TEMPORAL:
                taps = self.front[layer].kernel.shape[0]
                start = 63 - (taps - 1) // 2  # this kernel's "same" window inside the 128-tap one
                conv = columns[:, start : start + taps] @ self.front[layer].kernel
                self._activate(conv.reshape(N_MELS, PATCH_FRAMES, -1).max(axis=0), layer, channels)
        return out

    def _activate(self, peak: np.ndarray, layer: str, channels: np.ndarray) -> None:
        """Max over frequency of the (sign-flipped) conv, (187, live) -> a · relu(sign · (peak + bias)) + b,
        written to the layer's live columns of ``channels`` (187, 561)."""
        front = self.front[layer]
        channels[:, self.offsets[layer] + front.live] = (
            front.a * np.maximum(front.sign * (peak + front.bias), 0) + front.b
        )

    def forward(self, x: np.ndarray) -> Layers:
        """Log-mel patches ``x`` (P, 187, 96) -> :class:`Layers`."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (PATCH_FRAMES, N_MELS):
            raise ValueError(f"musicnn takes log-mel patches of shape (P, {PATCH_FRAMES}, {N_MELS}), got {x.shape}")
        z = np.float32(self.input_a) * np.minimum(x, np.float32(self.cap)) + np.float32(self.input_b)
        front = self._front_end(z)
        maps = [front]
        previous = front[:, :, self.live_channels]
        for i, (kernel, bias, a, b) in enumerate(self.midend):
            padded = np.pad(previous, ((0, 0), (3, 3), (0, 0)))
            windows = np.lib.stride_tricks.sliding_window_view(padded, 7, axis=1)  # (P, 187, C, 7)
            columns = windows.transpose(0, 1, 3, 2).reshape(len(x) * PATCH_FRAMES, -1)
            h = a * np.maximum((columns @ kernel).reshape(len(x), PATCH_FRAMES, -1) + bias, 0) + b
            previous = h if i == 0 else h + previous
            maps.append(previous)
        features = np.concatenate(maps, axis=2)  # (P, 187, 753)
        pooled = np.stack([features.max(axis=1), features.mean(axis=1)], axis=2).reshape(len(x), -1)
        pooled = self.pool_a * pooled + self.pool_b
        kernel, bias, a, b = self.dense
        penultimate = a * np.maximum(pooled @ kernel + bias, 0) + b
        kernel, bias = self.output
        logits = penultimate @ kernel + bias
        return Layers(pooled, penultimate, (1.0 / (1.0 + np.exp(-logits))).astype(np.float32))


# --------------------------------------------------------------------------------------------- gems' use of it

SOUND_MODELS = ("MTT_musicnn", "MSD_musicnn")
SOUND_DIMS = 2 * 2 * 200  # per model: mean and max over patches of the 200-d penultimate layer


def describe(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mono 16-kHz samples ``y`` (n,) -> ``(sound, tags)``, float32.

    ``sound`` (800,): for MTT_musicnn then MSD_musicnn, the mean and the max over the clip's 3-s patches of the
    200-d penultimate layer — the space ``pipelines/sound_space.py`` chose on two sets of games (compared by
    cosine; nothing is fitted on the collection, so a file's vector never depends on the other files).
    ``tags`` (50,): MTT_musicnn's taggram averaged over patches (as musicnn's own ``top_tags`` does), one
    probability per word of :data:`TAG_WORDS`.
    """
    x = patches(log_mel(y))
    outputs = {name: Musicnn.load(name).forward(x) for name in SOUND_MODELS}
    sound = [pool(outputs[name].penultimate, axis=0) for name in SOUND_MODELS for pool in (np.mean, np.max)]
    return np.concatenate(sound).astype(np.float32), outputs["MTT_musicnn"].taggram.mean(axis=0).astype(np.float32)


def weights_fingerprint() -> dict:
    """What identifies the sound space's output: the models, the pooling, and the weights' sha256 (provenance)."""
    import json
    from importlib.resources import files

    provenance = json.loads((files("gems.audio") / "weights" / "provenance.json").read_text())
    return {
        "models": list(SOUND_MODELS),
        "layer": "penultimate",
        "pooling": ["mean", "max"],
        "weights": {name: provenance["files"][f"{name}.npz"] for name in SOUND_MODELS},
        "log_mel_cap_peak": PEAK,
    }
