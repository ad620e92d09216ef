"""The curated name lists of :mod:`gems.ingest.soundtrack` (film, TV, game and stage composers; film playback
singers) and how an artist credit is matched against them: as a whole name, then each of its names ("A & B",
"A feat. B"), compared without case, accents, spaces or punctuation."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_SPLIT = r"\s*(?:,|&|\+|/|;|\bfeat\.?|\bft\.|\bfeaturing\b|\bwith\b|\band\b|\bvs\.?|\bx\b)\s*"
_SPLIT_CREDITS = re.compile(_SPLIT, re.IGNORECASE)
_NON_WORD = re.compile(r"[\W_]+")
_LETTERS = str.maketrans({"ð": "d", "þ": "th", "ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ł": "l", "đ": "d", "ı": "i"})


def name_key(name: str) -> str:
    """A name compared without case, accents, spaces or punctuation: "Jóhann Jóhannsson" -> "johannjohannsson",
    "A.R. Rahman" -> "arrahman", "Hildur Guðnadóttir" -> "hildurgudnadottir"."""
    text = name.casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(_LETTERS))
        text = "".join(c for c in text if not unicodedata.combining(c))
    return _NON_WORD.sub("", text)


@lru_cache(maxsize=2)
def _load_names(file: str) -> dict[str, str]:
    """name key -> display name, from ``gems/data/<file>`` (aliases map to the first name of their line)."""
    text = resources.files("gems").joinpath(f"data/{file}").read_text(encoding="utf-8")
    names: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spellings = [n.strip() for n in line.split("|") if n.strip()]
        for spelling in spellings:
            names.setdefault(name_key(spelling), spellings[0])
    return names


def load_composers() -> dict[str, str]:
    """name key -> display name of the curated composers (``gems/data/soundtrack_composers.txt``)."""
    return _load_names("soundtrack_composers.txt")


def load_singers() -> dict[str, str]:
    """name key -> display name of the curated film playback singers (``gems/data/soundtrack_singers.txt``)."""
    return _load_names("soundtrack_singers.txt")


def composer_of(credit: str) -> str | None:
    """The curated composer an artist credit names (whole, or as one of its names), or None."""
    composers = load_composers()
    for part in [credit, *_SPLIT_CREDITS.split(credit)]:
        found = composers.get(name_key(part)) if part else None
        if found is not None:
            return found
    return None


def credited(credits: pa.Array, lists: list[dict[str, str]]) -> list[np.ndarray]:
    """Per list, (len(credits),) the display name each credit names (whole first, then its parts), or None."""
    parts = pc.split_pattern_regex(credits, "(?i)" + _SPLIT)
    keys = _keys(pa.concat_arrays([credits, pc.list_flatten(parts)]))
    owners = np.concatenate([np.arange(len(credits)), pc.list_parent_indices(parts).to_numpy()])
    out = []
    for names in lists:
        hit = pc.is_in(keys, value_set=pa.array(sorted(names))).fill_null(False).to_numpy(zero_copy_only=False)
        first_owners, first = np.unique(owners[hit], return_index=True)  # the whole credit before its parts
        found = np.full(len(credits), None, dtype=object)
        found[first_owners] = [names[k] for k in np.asarray(keys.filter(pa.array(hit)).to_pylist(), object)[first]]
        out.append(found)
    return out


def _keys(names: pa.Array) -> pa.Array:
    """:func:`name_key` of every name: in Arrow for ASCII names, in Python for the others."""
    ascii_keys = pc.replace_substring_regex(pc.utf8_lower(names), r"[^a-z0-9]+", "")
    is_ascii = pc.string_is_ascii(names).fill_null(True).to_numpy(zero_copy_only=False)
    if is_ascii.all():
        return ascii_keys
    keys = np.asarray(ascii_keys.to_pylist(), dtype=object)
    others = np.flatnonzero(~is_ascii)
    keys[others] = [name_key(n) for n in names.take(pa.array(others)).to_pylist()]
    return pa.array(keys.tolist(), type=pa.string())
