"""The reference outputs of musicnn's ORIGINAL code on one demo clip, for gems' forward-pass test.

Runs musicnn 0.1.0's own ``extractor`` (librosa + TensorFlow, TF-1 graph through ``tf.compat.v1``) under
NumPy 1.x, in a throwaway environment outside the project — never in gems' own:

    python3.11 -m venv /work/tfenv
    /work/tfenv/bin/pip install "tensorflow-cpu==2.15.1" "numpy<2" "librosa==0.10.2.post1"
    pip download --no-deps musicnn==0.1.0 -d /tmp/musicnn && /work/tfenv/bin/pip install --no-deps /tmp/musicnn/*.whl
    /work/tfenv/bin/python pipelines/musicnn_reference.py          # writes tests/data/musicnn_reference.npz

NumPy 1.x matters: musicnn rounds the mel power to float16 and then computes ``log10(10000 x + 1)``. Under
NumPy 1.x ``10000 * float16`` is float32 (value-based casting), so the logarithm is finite; under NumPy 2 it
stays float16 and overflows to inf. The reference therefore still carries musicnn's float16 rounding of the mel
power (a relative error up to 2^-11), which gems does not reproduce (see tests/test_musicnn.py).

The clip is fed as one batch (see main: musicnn's extractor repeats the first batch's features otherwise).
Stored per model (``MTT_musicnn``, ``MSD_musicnn``), one row per non-overlapping 3-s patch, float32:
``<model>/taggram`` (P × 50 sigmoid outputs) and ``<model>/penultimate`` (P × 200); plus the library versions.
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "data" / "demo" / "audio" / "wesnoth" / "main-theme.ogg"
OUT = ROOT / "tests" / "data" / "musicnn_reference.npz"
MODELS = ("MTT_musicnn", "MSD_musicnn")
LAYERS = ("taggram", "penultimate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    from importlib.metadata import version

    import librosa
    import numpy as np
    import tensorflow as tf

    if int(np.__version__.split(".")[0]) >= 2:
        raise SystemExit(f"NumPy {np.__version__}: musicnn's float16 log-mel overflows under NumPy 2; use numpy<2")
    from musicnn import configuration
    from musicnn.extractor import extractor

    # musicnn's extractor feeds BATCH_SIZE (1) patches per session run, and for every run after the first it
    # appends the FIRST run's features again (its loop unpacks `backend_` but appends `penultimate_`): fed as
    # one batch, every patch's features are its own. Inference batch norm uses the stored moving statistics,
    # so the batch size changes nothing else.
    configuration.BATCH_SIZE = 1024

    arrays = {
        "versions": np.array(
            [
                f"numpy {np.__version__}",
                f"tensorflow {tf.__version__}",
                f"librosa {librosa.__version__}",
                f"musicnn {version('musicnn')}",
            ]
        ),
        "clip": np.array(str(args.clip.resolve().relative_to(ROOT))),
    }
    for model in MODELS:
        taggram, _labels, features = extractor(str(args.clip), model=model, input_length=3, extract_features=True)
        arrays[f"{model}/taggram"] = np.asarray(taggram, dtype=np.float32)
        arrays[f"{model}/penultimate"] = np.asarray(features["penultimate"], dtype=np.float32)
        print(model, {layer: arrays[f"{model}/{layer}"].shape for layer in LAYERS})
    write_npz(args.out, arrays)
    print(f"wrote {args.out}")


def write_npz(path: Path, arrays: dict) -> None:
    """np.savez with fixed entry dates (np.savez stamps the current time), so a re-run gives the same bytes."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
            archive.writestr(
                zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)),
                buffer.getvalue(),
                compress_type=zipfile.ZIP_DEFLATED,
            )


if __name__ == "__main__":
    main()
