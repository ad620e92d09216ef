"""Playlist files: a :class:`gems.serve.playlist.Playlist` in the format a player opens, and track URIs.

Formats (by the suffix of ``--out``)
------------------------------------
* ``.m3u8`` — extended M3U in UTF-8: ``#EXTM3U``, ``#PLAYLIST:<title>``, then per track
  ``#EXTINF:<whole seconds, −1 when unknown>,<Artist> - <Title>`` and its location line: the audio file's path
  relative to the playlist's folder (``/`` separators), else the track's URI (below).
* ``.xspf`` — XSPF 1 (https://xspf.org/spec), UTF-8 XML in the ``http://xspf.org/ns/0/`` namespace: playlist
  ``title``, ``creator`` (gems), ``annotation`` (seeds; says when the listening data is simulated), exactly one
  ``trackList``; each ``track`` has, in the spec's order, ``location`` (a ``file://`` URI of the absolute path,
  or the track id when it is a URI; left out when there is neither), ``identifier``, ``title``, ``creator``
  (artist), ``annotation`` (why it was picked), ``album`` (soundtrack), ``duration`` (milliseconds; left out
  when unknown). No ``date``, so the same model and options write the same bytes.
* ``.jspf`` — the JSON form of XSPF: ``{"playlist": {"title", "creator", "annotation", "track": [...]}}``,
  each track's ``location`` and ``identifier`` arrays of URIs, ``duration`` in milliseconds.

Track URIs: a track id that already is a URI (it has a scheme followed by ``://``, or is a ``spotify:`` or
``urn:`` URI, as listening exports give) is used as it is; any other id becomes ``gems:track:<id,
percent-encoded>``, which identifies the track (XSPF ``identifier``) but locates nothing. So XSPF/JSPF give a
``location`` only for a local file or a real URI and leave the rest to the player's resolver (title, creator,
album); M3U has no other field, so its line for such a track is the ``gems:`` URI, which players skip — the
CLI says how many tracks that is.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from gems.errors import ParameterError
from gems.safe_files import write_output
from gems.terminal import printable

FORMATS = (".m3u8", ".xspf", ".jspf")
XSPF_NS = "http://xspf.org/ns/0/"
_URI_SCHEMES = ("spotify", "urn")  # schemes without "//" that a track id may already be in
_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):(//)?[^\s\x00-\x1f\x7f-\x9f]+$")  # no control characters
_XML_INVALID = re.compile("[\ufffe\uffff]")  # besides the control characters printable() drops
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)}


# --------------------------------------------------------------------------------------------- entries


def is_uri(text: str) -> bool:
    """Whether a track id already is a URI: ``scheme://…``, or ``spotify:…`` / ``urn:…``."""
    match = _URI.match(text or "")
    return bool(match) and (match.group(2) is not None or match.group(1).lower() in _URI_SCHEMES)


def track_uri(track_id: str) -> str:
    """The URI identifying a track: its id when that is a URI, else ``gems:track:<percent-encoded id>``."""
    if is_uri(track_id):
        return track_id
    return "gems:track:" + quote(track_id, safe="-._~!$&'()*+,;=:@/")


@dataclass(frozen=True)
class Entry:
    """One track of a playlist, as the formats need it. ``path``: the absolute local file, or None."""

    title: str
    artist: str | None
    album: str | None
    duration_s: float | None
    path: str | None
    uri: str
    note: str | None = None
    track_id: str | None = None
    stream_url: str | None = None  # where a server streams the file (``gems serve``), preferred to the path

    @property
    def location(self) -> str | None:
        """A URI that locates the audio: the stream URL, the file's ``file://`` URI, or the track URI when it
        is a real URI."""
        if self.stream_url:
            return self.stream_url
        if self.path:
            return Path(os.path.abspath(self.path)).as_uri()
        return None if self.uri.startswith("gems:") else self.uri

    @property
    def display(self) -> str:
        return f"{self.artist} - {self.title}" if self.artist else self.title


@dataclass(frozen=True)
class Playlist:
    title: str
    annotation: str
    entries: list[Entry]

    @property
    def without_file(self) -> int:
        """How many entries have no local audio file."""
        return sum(1 for entry in self.entries if not entry.path)


# --------------------------------------------------------------------------------------------- formats


def _line(text: str) -> str:
    """Text fit for one line of an M3U file: no line break, no control character a player or a terminal
    showing the file would obey."""
    return printable(text).strip()


def _xml_text(text: str) -> str:
    """Text fit for XML (and for whoever shows it): no control characters, no non-characters."""
    return _XML_INVALID.sub("", printable(text))


@lru_cache(maxsize=1 << 16)
def _relative(path: str, folder: str) -> str:
    """``path`` relative to ``folder``, ``/``-separated (cached: a batch export writes many playlists into one
    folder from the same tracks)."""
    try:
        location = os.path.relpath(path, folder)
    except ValueError:  # another drive (Windows): no relative path exists
        location = path
    location = location.replace(os.sep, "/")
    return "./" + location if location.startswith("#") else location


def _m3u_location(item: Entry, folder: str) -> str:
    if item.stream_url:
        return item.stream_url
    if not item.path:
        return item.uri
    path = os.path.abspath(item.path)
    if printable(path) != path:  # a line break or a control character: percent-encoded in a file URI
        return Path(path).as_uri()
    return _relative(path, folder)


def render_m3u8(playlist: Playlist, folder: str | Path) -> str:
    """Extended M3U; locations relative to ``folder`` (the playlist file's folder)."""
    folder = os.path.abspath(folder)
    lines = ["#EXTM3U", f"#PLAYLIST:{_line(playlist.title)}"]
    for item in playlist.entries:
        seconds = -1 if item.duration_s is None else int(round(item.duration_s))
        lines.append(f"#EXTINF:{seconds},{_line(item.display)}")
        lines.append(_m3u_location(item, folder))
    return "\n".join(lines) + "\n"


def _xspf_tracks(playlist: Playlist) -> list[dict]:
    """Each entry's XSPF fields in the spec's order (location, identifier, title, creator, annotation, album,
    duration), unknown ones left out."""
    tracks = []
    for item in playlist.entries:
        fields: dict = {}
        if item.location:
            fields["location"] = [item.location]
        fields["identifier"] = [item.uri]
        fields["title"] = _xml_text(item.title)
        if item.artist:
            fields["creator"] = _xml_text(item.artist)
        if item.note:
            fields["annotation"] = _xml_text(item.note)
        if item.album:
            fields["album"] = _xml_text(item.album)
        if item.duration_s is not None:
            fields["duration"] = int(round(item.duration_s * 1000))
        tracks.append(fields)
    return tracks


def render_xspf(playlist: Playlist) -> bytes:
    """XSPF version 1, UTF-8 with an XML declaration."""
    import xml.etree.ElementTree as ET

    def element(parent, tag: str, text) -> None:
        ET.SubElement(parent, f"{{{XSPF_NS}}}{tag}").text = _xml_text(text)

    ET.register_namespace("", XSPF_NS)
    root = ET.Element(f"{{{XSPF_NS}}}playlist", {"version": "1"})
    element(root, "title", playlist.title)
    element(root, "creator", "gems")
    element(root, "annotation", playlist.annotation)
    track_list = ET.SubElement(root, f"{{{XSPF_NS}}}trackList")
    for fields in _xspf_tracks(playlist):
        track = ET.SubElement(track_list, f"{{{XSPF_NS}}}track")
        for tag, value in fields.items():
            for text in value if isinstance(value, list) else [value]:
                element(track, tag, text)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def render_jspf(playlist: Playlist) -> str:
    """JSPF: XSPF as JSON, ``location`` and ``identifier`` as arrays."""
    body = {
        "playlist": {
            "title": _xml_text(playlist.title),
            "creator": "gems",
            "annotation": _xml_text(playlist.annotation),
            "track": _xspf_tracks(playlist),
        }
    }
    return json.dumps(body, ensure_ascii=False, indent=2) + "\n"


def playlist_suffix(name: str | Path) -> str:
    """The format suffix of a playlist file name, checked (``ParameterError`` naming the three formats)."""
    path = Path(name)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ParameterError(
            f"cannot write a playlist as '{suffix or path.name}'; use a file ending in .m3u8 (players' M3U), "
            ".xspf (XSPF XML) or .jspf (XSPF as JSON)"
        )
    return suffix


def render(playlist: Playlist, out: str | Path) -> bytes:
    """The bytes of ``playlist`` written as ``out`` (the format follows its suffix)."""
    suffix = playlist_suffix(out)
    if suffix == ".xspf":
        return render_xspf(playlist)
    if suffix == ".jspf":
        return render_jspf(playlist).encode("utf-8")
    return render_m3u8(playlist, Path(os.path.abspath(out)).parent).encode("utf-8")


def write_playlist(playlist: Playlist, out: str | Path) -> Path:
    """Write ``playlist`` to ``out`` atomically, with the user's umask; the format follows the suffix
    (:data:`FORMATS`). A full disk or a folder one may not write to is a DataError."""
    out = Path(out)
    write_output(out, render(playlist, out))
    return out


def safe_filename(user_id: str) -> str:
    """A file name (without suffix) for a user id, the same on every filesystem and never shared by two ids.

    ``a-z``, ``0-9``, ``-`` and ``.`` stay; an upper-case letter becomes ``_`` and its lower case (so names
    differ on case-insensitive filesystems too); every other byte of the UTF-8 id, ``_`` and ``~`` included,
    becomes ``~`` and two hex digits. A leading ``.`` and Windows device names (con, nul, com1...) are escaped
    the same way. The encoding is reversible, so two ids never share a name. Only ids whose encoding would pass
    200 characters are cut, keeping a 128-bit hash of the whole id after ``~~`` (which no other name contains).
    """
    out = []
    for char in user_id:
        if "a" <= char <= "z" or "0" <= char <= "9" or char in "-.":
            out.append(char)
        elif "A" <= char <= "Z":
            out.append("_" + char.lower())
        else:
            out.append("".join(f"~{byte:02x}" for byte in char.encode("utf-8")))
    if out and out[0] == ".":
        out[0] = "~2e"
    name = "".join(out)
    if name.split(".")[0] in _WINDOWS_RESERVED:
        name = f"~{ord(name[0]):02x}" + name[1:]
    if not name:
        name = "~"
    if len(name) > 200:
        import hashlib

        name = name[:160] + "~~" + hashlib.blake2b(user_id.encode("utf-8"), digest_size=16).hexdigest()
    return name
