"""Convert musicnn's trained TF-1 checkpoints into the float32 ``.npz`` weights gems ships.

    pip download --no-deps musicnn==0.1.0 -d /tmp/musicnn
    python pipelines/convert_musicnn.py /tmp/musicnn/musicnn-0.1.0-py3-none-any.whl

The wheel (Pons & Serra, MTG-UPF, ISC licence) holds the checkpoints ``musicnn/<model>/.index`` and
``.data-00000-of-00001``. They are read here without TensorFlow: the ``.index`` file is a LevelDB SSTable whose
values are ``BundleEntryProto`` messages (dtype, shape, offset, size and masked CRC32C of each tensor), the
``.data`` shard the tensors' raw little-endian bytes. Every tensor's CRC32C is checked. Only the 792,079
inference parameters are kept (Adam's slots are training state), renamed by their role in musicnn's
``build_musicnn`` (TensorFlow numbered the layers in the order that function creates them):

    input_bn                       the batch norm on the log-mel input (one channel)
    timbral74, timbral77           conv 7 × 38 and 7 × 67 (time × mel), 204 filters each, then batch norm
    temporal128, temporal64, temporal32   conv 128/64/32 × 1, 51 filters each, then batch norm
    midend1, midend2, midend3      conv 7 × 561, 7 × 64, 7 × 64, 64 filters each, then batch norm
    pool_bn                        batch norm of the 1,506 pooled mid-end features (max, mean interleaved)
    penultimate                    dense 1506 -> 200 (ReLU), then batch norm
    output                         dense 200 -> 50 (logits; sigmoid gives the tag probabilities)

Keys are ``<layer>.kernel`` / ``.bias`` (TensorFlow's layouts: conv (kh, kw, in, out), dense (in, out)) and
``<layer>.bn.gamma`` / ``.beta`` / ``.mean`` / ``.variance``. Written to ``src/gems/audio/weights/``:
``MTT_musicnn.npz``, ``MSD_musicnn.npz`` (stored, fixed entry dates: a re-run gives identical bytes), the
wheel's ``LICENSE.md`` and ``provenance.json`` (wheel name, sha256 and date, this script, each file's sha256).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "gems" / "audio" / "weights"
WHEEL = "musicnn-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"  # PyPI's file, checked below
MODELS = ("MTT_musicnn", "MSD_musicnn")
PARAMETERS = 792_079
TF_FLOAT = 1  # DataType DT_FLOAT
SSTABLE_MAGIC = 0xDB4775248B80FB57
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

# TensorFlow's layer names -> gems' (creation order in musicnn.models.build_musicnn)
CONVS = {
    "conv2d": "timbral74",
    "conv2d_1": "timbral77",
    "conv2d_2": "temporal128",
    "conv2d_3": "temporal64",
    "conv2d_4": "temporal32",
    "conv2d_5": "midend1",
    "conv2d_6": "midend2",
    "conv2d_7": "midend3",
    "dense": "penultimate",
    "dense_1": "output",
}
NORMS = {"batch_normalization": "input_bn", "batch_normalization_9": "pool_bn", "batch_normalization_10": "penultimate"}
NORMS |= {f"batch_normalization_{i}": CONVS["conv2d" if i == 1 else f"conv2d_{i - 1}"] for i in range(1, 9)}
NORM_FIELDS = {"gamma": "gamma", "beta": "beta", "moving_mean": "mean", "moving_variance": "variance"}
SHAPES = {
    "timbral74.kernel": (7, 38, 1, 204),
    "timbral77.kernel": (7, 67, 1, 204),
    "temporal128.kernel": (128, 1, 1, 51),
    "temporal64.kernel": (64, 1, 1, 51),
    "temporal32.kernel": (32, 1, 1, 51),
    "midend1.kernel": (7, 561, 1, 64),
    "midend2.kernel": (7, 64, 1, 64),
    "midend3.kernel": (7, 64, 1, 64),
    "pool_bn.bn.gamma": (1506,),
    "penultimate.kernel": (1506, 200),
    "output.kernel": (200, 50),
}


# --------------------------------------------------------------------------------------------- the checkpoint


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _block_entries(block: bytes):
    """(key, value) of one SSTable block: prefix-compressed keys, then the restart array (ignored)."""
    restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end, pos, key = len(block) - 4 - 4 * restarts, 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        length, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + length]
        pos += length


def _block(table: bytes, handle: bytes) -> bytes:
    """The block a BlockHandle (varint offset, varint size) points at; it must be uncompressed."""
    offset, pos = _varint(handle, 0)
    size, _ = _varint(handle, pos)
    if table[offset + size] != 0:
        raise SystemExit("the checkpoint index uses a compressed block, which this reader does not handle")
    return table[offset : offset + size]


def read_index(table: bytes) -> dict[str, bytes]:
    """Every (tensor name, BundleEntryProto bytes) of a TensorFlow bundle's ``.index`` SSTable."""
    footer = table[-48:]
    if struct.unpack("<Q", footer[-8:])[0] != SSTABLE_MAGIC:
        raise SystemExit("not a TensorFlow checkpoint index (bad SSTable magic)")
    pos = _varint(footer, _varint(footer, 0)[1])[1]  # past the metaindex handle: the index block's handle
    end = _varint(footer, _varint(footer, pos)[1])[1]
    entries = {}
    for _, handle in _block_entries(_block(table, footer[pos:end])):
        for key, value in _block_entries(_block(table, handle)):
            entries[key.decode()] = value
    return entries


def _fields(message: bytes) -> dict[int, list]:
    """A protobuf message's fields by number (varint, fixed32, fixed64 and length-delimited values)."""
    out: dict[int, list] = {}
    pos = 0
    while pos < len(message):
        tag, pos = _varint(message, pos)
        kind = tag & 7
        if kind == 0:
            value, pos = _varint(message, pos)
        elif kind == 1:
            value, pos = struct.unpack_from("<Q", message, pos)[0], pos + 8
        elif kind == 2:
            length, pos = _varint(message, pos)
            value, pos = message[pos : pos + length], pos + length
        elif kind == 5:
            value, pos = struct.unpack_from("<I", message, pos)[0], pos + 4
        else:
            raise SystemExit(f"unexpected protobuf wire type {kind} in the checkpoint index")
        out.setdefault(tag >> 3, []).append(value)
    return out


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def masked_crc32c(data: bytes) -> int:
    """CRC32C (Castagnoli) of ``data``, masked as TensorFlow stores it: rotate right 15, add 0xa282ead8."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def read_checkpoint(index: bytes, shard: bytes) -> dict[str, np.ndarray]:
    """Every float tensor of a single-shard bundle, by TensorFlow name, CRC-checked."""
    tensors = {}
    for name, entry in read_index(index).items():
        if not name:
            continue  # the BundleHeaderProto
        fields = _fields(entry)
        dtype, shard_id = fields.get(1, [0])[0], fields.get(3, [0])[0]
        if dtype != TF_FLOAT or shard_id != 0 or 7 in fields:
            raise SystemExit(f"{name}: dtype {dtype}, shard {shard_id}: only unsliced float32 in one shard is read")
        shape = tuple(_fields(dim).get(1, [0])[0] for dim in _fields(fields.get(2, [b""])[0]).get(2, []))
        offset, size = fields.get(4, [0])[0], fields.get(5, [0])[0]
        raw = shard[offset : offset + size]
        if len(raw) != size or masked_crc32c(raw) != fields[6][0]:
            raise SystemExit(f"{name}: its bytes do not match the checkpoint's CRC32C; the wheel is damaged")
        tensors[name] = np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)
    return tensors


def rename(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inference parameters under gems' names (module docstring), in sorted order."""
    out = {}
    for name, array in tensors.items():
        layer, _, field = name.partition("/")
        if "Adam" in field or name in ("beta1_power", "beta2_power"):
            continue
        if layer in NORMS:
            out[f"{NORMS[layer]}.bn.{NORM_FIELDS[field]}"] = array
        elif layer in CONVS and field in ("kernel", "bias"):
            out[f"{CONVS[layer]}.{field}"] = array
        else:
            raise SystemExit(f"unexpected tensor {name} in the checkpoint")
    for key, shape in SHAPES.items():
        if out[key].shape != shape:
            raise SystemExit(f"{key} has shape {out[key].shape}, expected {shape}: not musicnn's architecture")
    if sum(a.size for a in out.values()) != PARAMETERS:
        raise SystemExit(f"expected {PARAMETERS:,} inference parameters, found {sum(a.size for a in out.values()):,}")
    return dict(sorted(out.items()))


# --------------------------------------------------------------------------------------------- writing


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``.npz`` archive (np.load reads it) with fixed entry dates and no compression: same input, same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE), member.getvalue())
    return buffer.getvalue()


def convert(wheel: Path, out: Path) -> dict:
    data = wheel.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: sha256 {digest}, not PyPI's {WHEEL} ({WHEEL_SHA256}); download it again")
    archive = zipfile.ZipFile(io.BytesIO(data))
    files: dict[str, bytes] = {"LICENSE.md": archive.read("musicnn-0.1.0.dist-info/LICENSE.md")}
    dates = []
    for model in MODELS:
        index = archive.getinfo(f"musicnn/{model}/.index")
        dates.append(index.date_time)
        tensors = read_checkpoint(archive.read(index), archive.read(f"musicnn/{model}/.data-00000-of-00001"))
        files[f"{model}.npz"] = npz_bytes(rename(tensors))
    provenance = {
        "source": "musicnn 0.1.0 (Jordi Pons, Xavier Serra; Music Technology Group, Universitat Pompeu Fabra)",
        "licence": "ISC (LICENSE.md, copied from the wheel)",
        "wheel": WHEEL,
        "wheel_sha256": digest,
        "wheel_checkpoint_date": "{:04d}-{:02d}-{:02d}".format(*max(dates)[:3]),
        "script": "pipelines/convert_musicnn.py",
        "models": list(MODELS),
        "parameters_per_model": PARAMETERS,
        "files": {name: hashlib.sha256(content).hexdigest() for name, content in sorted(files.items())},
    }
    files["provenance.json"] = (json.dumps(provenance, indent=2) + "\n").encode()
    out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (out / name).write_bytes(content)
    return provenance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path, help=f"the {WHEEL} file from `pip download --no-deps musicnn==0.1.0`")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    provenance = convert(args.wheel, args.out)
    for name, digest in provenance["files"].items():
        print(f"{digest[:16]}  {args.out / name}")


if __name__ == "__main__":
    main()
