"""Decode the analysed window of an audio file: the middle ``excerpt_s`` seconds, mono, at the analysis rate.

Only that window is decoded (soundfile seeks to it). Channels are averaged before resampling, so the resampler
sees one channel; soxr's ``HQ`` quality is used, the resampler musicnn's own code runs (librosa's ``soxr_hq``):
see RESAMPLE_QUALITY below.

Every way a file can fail raises :class:`AudioFileError` with a ``code`` and a ``reason`` that says what was
found and what to do; the reason never names the path (it is cached per file content), ``str(error)`` does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np

from gems.audio.params import AudioParams
from gems.errors import DataError
from gems.safe_files import NotRegularFile, describe_os_error, open_regular

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3"})
# soxr quality: HQ is what librosa.load (soxr_hq) gives musicnn's own code, so gems' taggram of a demo clip
# matches musicnn's (tests/test_musicnn.py); it costs ~1 ms more than LQ per 30-s clip at 16 kHz.
RESAMPLE_QUALITY = "HQ"
SILENCE_DBFS = -60.0  # an excerpt whose RMS is below this is "silent"
_OGG_MAX_PAGE = 27 + 255 + 255 * 255  # header + segment table + body of the largest possible Ogg page
_FORMATS = "Ogg (Vorbis/Opus), FLAC, WAV or MP3"


class AudioFileError(DataError):
    """An audio file that cannot be analysed.

    ``code`` is one of ``missing``, ``unreadable``, ``not_a_file`` (a FIFO, socket or device), ``unsupported``,
    ``empty``, ``not_audio``, ``truncated``, ``corrupt``, ``too_short``, ``silent``; ``reason`` is a sentence
    about the content (no path), ``path`` the file. ``str(error)`` is ``"PATH: REASON"``.
    """

    def __init__(self, path: str | os.PathLike, code: str, reason: str):
        self.path, self.code, self.reason = str(path), code, reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self):
        return type(self), (self.path, self.code, self.reason)


def sniff(head: bytes) -> str | None:
    """The container the first bytes of a file announce: ``ogg``, ``flac``, ``wav``, ``mp3``, or None."""
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"  # an ID3 tag or an MPEG audio frame sync
    return None


def _describe(head: bytes) -> str:
    """What a non-audio file looks like, e.g. 'starts with text ("404 Not Found")'."""
    known = {
        b"PK\x03\x04": "is a ZIP archive",
        b"%PDF": "is a PDF document",
        b"\x89PNG": "is a PNG image",
        b"\xff\xd8\xff": "is a JPEG image",
        b"\x1f\x8b": "is gzip-compressed",
    }
    for magic, what in known.items():
        if head.startswith(magic):
            return what
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(ch.isprintable() or ch.isspace() for ch in text):
        if text.lstrip().lower().startswith(("<!doctype html", "<html")):
            return "is an HTML page (a failed download?)"
        snippet = " ".join(text.split())[:40]
        return f'starts with text ("{snippet}")'
    return f"starts with the bytes {head[:8].hex(' ')}, which match no audio format"


def _ogg_end(f: BinaryIO, size: int) -> str:
    """How an Ogg file ends: ``ok`` (a complete last page flagged end-of-stream), ``no_eos``, ``incomplete``.

    Reads only the last 64 KiB (one maximal page): the last ``OggS`` capture pattern there starts the last page,
    which must fit in the file. Bytes after a complete last page (an ID3v1 tag some taggers append) are ignored.
    """
    f.seek(max(0, size - _OGG_MAX_PAGE))
    tail = f.read()
    pos = tail.rfind(b"OggS")
    header = tail[pos : pos + 27] if pos >= 0 else b""
    if len(header) < 27:
        return "incomplete"
    segments = tail[pos + 27 : pos + 27 + header[26]]
    if len(segments) < header[26] or pos + 27 + len(segments) + sum(segments) > len(tail):
        return "incomplete"
    return "ok" if header[5] & 0x04 else "no_eos"


def check_extension(path: str | os.PathLike) -> None:
    """Raise AudioFileError ``unsupported`` unless the file name ends in one of AUDIO_EXTENSIONS."""
    suffix = Path(path).suffix
    if suffix.lower() not in AUDIO_EXTENSIONS:
        raise AudioFileError(
            path,
            "unsupported",
            f"has extension '{suffix}', which gems does not read (expected one of "
            f"{', '.join(sorted(AUDIO_EXTENSIONS))}); convert it to {_FORMATS} or leave it out",
        )


def os_error(path: str | os.PathLike, exc: OSError) -> AudioFileError:
    """The AudioFileError (``missing``, ``not_a_file`` or ``unreadable``) for an OSError met while opening
    ``path``."""
    if isinstance(exc, FileNotFoundError):
        return AudioFileError(path, "missing", "does not exist; check the path or rescan the music folder")
    return AudioFileError(
        path, "not_a_file" if isinstance(exc, NotRegularFile) else "unreadable", describe_os_error(exc)
    )


def _check_file(path: Path) -> None:
    """Checks that need no decoding: extension, a regular file (a FIFO would block), size, magic bytes, the end
    of an Ogg stream."""
    check_extension(path)
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(64)
            end = _ogg_end(f, size) if sniff(head) == "ogg" else "ok"
    except OSError as exc:
        raise os_error(path, exc) from None
    if size == 0:
        raise AudioFileError(path, "empty", "is empty (0 bytes); re-download or re-export it")
    container = sniff(head)
    if container is None:
        raise AudioFileError(
            path,
            "not_audio",
            f"is not audio: it {_describe(head)}; expected {_FORMATS} data — replace it with the real audio file",
        )
    if end != "ok":
        found = {"incomplete": "ends in the middle of an Ogg page", "no_eos": "has no end-of-stream page"}
        raise AudioFileError(
            path,
            "truncated",
            f"is cut short: the Ogg stream {found[end]} (an interrupted download or copy?); "
            "re-download or re-export it",
        )


def _message(exc: Exception) -> str:
    """libsndfile's own words, without the path soundfile prefixes (reasons are cached per content)."""
    return getattr(exc, "error_string", None) or str(exc)


def downmix(x: np.ndarray) -> np.ndarray:
    """Mean of the channels of ``x`` (frames, channels) float32: shape (frames,).

    Column by column: ``x.mean(axis=1)`` is ~30x slower on an interleaved (n, 2) float32 array.
    """
    channels = x.shape[1]
    y = x[:, 0] if channels == 1 else np.add(x[:, 0], x[:, 1])
    for c in range(2, channels):
        y += x[:, c]
    if channels > 1:
        y *= np.float32(1.0 / channels)
    return y


def load_excerpt(
    path: str | os.PathLike,
    *,
    sr: int = 16000,
    excerpt_s: float = AudioParams.excerpt_s,
    min_duration_s: float = AudioParams.min_duration_s,
) -> tuple[np.ndarray, float]:
    """Decode the middle ``excerpt_s`` seconds of ``path`` (the whole file when shorter, or when excerpt_s=0).

    Returns ``(y, duration_s)``: ``y`` mono float32 samples at ``sr`` Hz, shape (n,), and the full duration
    of the file in seconds. Raises :class:`AudioFileError` for every failure (never a soundfile error).
    """
    import soundfile as sf
    import soxr

    path = Path(path)
    _check_file(path)
    try:
        f = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise AudioFileError(
            path,
            "corrupt",
            f"cannot be decoded ({_message(exc)}); the file is damaged or uses a codec libsndfile lacks — "
            f"re-export it as {_FORMATS}",
        ) from None
    with f:
        rate, frames = f.samplerate, f.frames
        duration = frames / rate if rate > 0 else 0.0
        if duration < min_duration_s:
            raise AudioFileError(
                path,
                "too_short",
                f"lasts {duration:.2f} s, shorter than the {min_duration_s:g} s minimum (min_duration_s); "
                "leave it out or lower min_duration_s",
            )
        want = frames if excerpt_s <= 0 else min(frames, int(round(excerpt_s * rate)))
        start = (frames - want) // 2
        try:
            if start:
                f.seek(start)
            x = f.read(want, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioFileError(
                path,
                "truncated",
                f"fails to decode part-way ({_message(exc)}); the file is damaged — re-download or re-export it",
            ) from None
    if len(x) < want - rate:  # decoders estimate MP3 lengths to within ~0.3 s; a cut file falls far shorter
        raise AudioFileError(
            path,
            "truncated",
            f"ends early: the header promises {duration:.1f} s but audio stops at "
            f"{(start + len(x)) / rate:.1f} s; "
            "re-download or re-export it",
        )
    y = downmix(x)
    if rate != sr:
        y = soxr.resample(y, rate, sr, quality=RESAMPLE_QUALITY)
    level = float(np.sqrt(np.dot(y, y) / max(len(y), 1)))
    if not np.isfinite(level):
        raise AudioFileError(path, "corrupt", "decodes to NaN or infinite samples; re-export it")
    if level < 10 ** (SILENCE_DBFS / 20):
        dbfs = 20 * np.log10(level) if level > 0 else -np.inf
        window = f"{start / rate:.1f}-{(start + len(x)) / rate:.1f} s"
        raise AudioFileError(
            path,
            "silent",
            f"is silent where analysed ({window}: RMS {dbfs:.0f} dBFS, below {SILENCE_DBFS:g} dBFS); "
            "check that it plays, or leave it out",
        )
    return y, duration
