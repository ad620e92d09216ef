"""The literal musicnn network, one patch at a time: the oracle that gems.audio.musicnn's fast forward pass is
tested against (and the "naive" row of benchmarks/musicnn_throughput.py).

Each line follows musicnn 0.1.0's ``models.build_musicnn`` as TensorFlow runs it at inference: every filter,
every batch norm where the graph has it (after the ReLU, before the max over frequency), TensorFlow's "same"
padding for the temporal convs, zero time padding of 3 frames for the 7-frame convs.
"""

from __future__ import annotations

import numpy as np

from gems.audio.musicnn import MIDEND, TEMPORAL, TIMBRAL, batch_norm


def _conv(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """'valid' 2-D convolution (cross-correlation) of one map x (T, F) with kernel (kh, kw, 1, C): (T', F', C)."""
    kh, kw, _, channels = kernel.shape
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw))
    return windows.reshape(windows.shape[0], windows.shape[1], kh * kw) @ kernel.reshape(kh * kw, channels) + bias


def naive_forward(weights: dict[str, np.ndarray], patch: np.ndarray) -> dict[str, np.ndarray]:
    """One log-mel patch (187, 96) -> {"penultimate": (200,), "taggram": (50,)}."""
    a, b = batch_norm(weights, "input_bn")
    x = a * patch + b
    front = []
    for layer in TIMBRAL:
        conv = _conv(np.pad(x, ((3, 3), (0, 0))), weights[f"{layer}.kernel"], weights[f"{layer}.bias"])
        a, b = batch_norm(weights, layer)
        front.append((a * np.maximum(conv, 0) + b).max(axis=1))
    for layer in TEMPORAL:
        taps = weights[f"{layer}.kernel"].shape[0]
        before = (taps - 1) // 2
        conv = _conv(
            np.pad(x, ((before, taps - 1 - before), (0, 0))), weights[f"{layer}.kernel"], weights[f"{layer}.bias"]
        )
        a, b = batch_norm(weights, layer)
        front.append((a * np.maximum(conv, 0) + b).max(axis=1))
    maps = [np.concatenate(front, axis=1)]  # (187, 561)
    previous = maps[0]
    for i, layer in enumerate(MIDEND):
        conv = _conv(np.pad(previous, ((3, 3), (0, 0))), weights[f"{layer}.kernel"], weights[f"{layer}.bias"])
        a, b = batch_norm(weights, layer)
        h = a * np.maximum(conv[:, 0, :], 0) + b
        previous = h if i == 0 else h + previous
        maps.append(previous)
    features = np.concatenate(maps, axis=1)  # (187, 753)
    pooled = np.stack([features.max(axis=0), features.mean(axis=0)], axis=1).reshape(-1)
    a, b = batch_norm(weights, "pool_bn")
    dense = np.maximum((a * pooled + b) @ weights["penultimate.kernel"] + weights["penultimate.bias"], 0)
    a, b = batch_norm(weights, "penultimate")
    penultimate = a * dense + b
    logits = penultimate @ weights["output.kernel"] + weights["output.bias"]
    return {"penultimate": penultimate, "taggram": 1 / (1 + np.exp(-logits))}
