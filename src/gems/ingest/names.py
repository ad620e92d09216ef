"""Name and id keys for linking tracks across sources; the rules, with examples, are in :mod:`gems.ingest.link`.

Every function here works on whole columns in Arrow compute (RE2 expressions, Unicode normalisation), each
distinct name once, with no Python loop over rows: a catalogue of a million titles is keyed in seconds.
``normalise_artist``/``normalise_title`` key one name with the same code.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gems.ingest.common import MISSING_MARKERS

# quotes and hyphens services disagree on, and letters that carry no combining accent to strip (en and em
# dashes stay: Spotify's " - " alone parts a title from its note, "Live at X – 2011" is one note)
_PLAIN = (
    *((c, "'") for c in "\u2018\u2019\u201a\u201b\u02bc\u00b4\u0060"),
    *((c, '"') for c in "\u201c\u201d\u201e\u201f\u00ab\u00bb"),
    *((c, "-") for c in "\u2010\u2011\u2212"),
    *{"ø": "o", "æ": "ae", "œ": "oe", "ð": "d", "þ": "th", "ł": "l", "đ": "d", "ı": "i", "ß": "ss", "ς": "σ"}.items(),
)
# accents of Latin, Greek and Cyrillic letters only: kana voicing marks and Indic vowel signs stay
_ACCENTS = "[\u0300-\u036f]"

# a version note at the end of a title: " - note", "(note)", "[note]", or an unbracketed "feat. X"
_TRAILING = (
    r"^(?P<head>.*\S)\s*(?:\s-\s*(?P<dash>[^()\[\]]+?)|\((?P<paren>[^()]*)\)|\[(?P<brack>[^\[\]]*)\]"
    r"|\s(?P<feat>(?:feat\.?|ft\.?|featuring)\s[^()\[\]]*))\s*$"
)
MAX_NOTES = 4  # trailing notes read per title
_CREDIT = r"^(?:feat\b|ft\b|featuring\b|with\s|prod\b|produced by\b)"
_FROM = r"^from\s|soundtrack|motion picture|\bost\b|original score|original (?:broadway |london )?cast|\bbroadway\b"
_NEUTRAL_WORDS = (
    r"^(?:[\W_]*(?:\d{1,4}|remaster\w*|re-?master\w*|digital(?:ly)?|version|versao|ver|radio|single|album|lp|ep"
    r"|edit|edited|mono|stereo|mix|original|bonus|track|explicit|clean|deluxe|edition|expanded|anniversary"
    r"|special|studio|the|of|and)\b[\W_]*)+$"
)
_MIX_AS_VERSION = (r"\b(original|radio|album|single|clean|explicit|main|studio|extended)\s+mix\b", r"\1")
# notes that change the recording, in the order notes are written ("live+acoustic")
KINDS = {
    "live": r"\blive\b|\ben vivo\b|\bao vivo\b|\ben directo\b|\ben concierto\b|\bin concert\b|\bunplugged\b",
    "acoustic": r"\bacoustic\b|\bacustic[oa]\b|\bstripped\b",
    "instrumental": r"\binstrumental\b|\bkaraoke\b|\bbacking track\b",
    "acapella": r"\ba ?cap+el+a\b",
    "demo": r"\bdemo\b",
    "orchestral": r"\borchestral\b|\bsymphonic\b",
    "piano": r"\bpiano (?:version|solo|ver)\b",
    "extended": r"\bextended\b",
    "rerecorded": r"\bre-?record\w*|\btaylor's version\b",
    "tempo": r"\bsped up\b|\bslowed\b|\bnightcore\b",
    "remix": r"\bre-?mix\w*|\bmix\b|\brework\w*|\bbootleg\b|\bvip\b|\bmash-?up\b",
}
_REMIX_WORDS = r"\b(?:re-?mix\w*|mix|rework\w*|edit|version|official|bootleg|remaster\w*|the|\d{4})\b"
_ARTIST_CREDIT = r"^(?P<main>.+?)\s+[(\[]?(?:feat\.?|ft\.?|featuring|with|vs\.?)\s"
_FIRST_CREDIT = r"^(?P<first>.*?\S)\s*(?:,|&|\+|/|;|\sand\s)"
_NOT_KEPT = r"[^\p{L}\p{N}\p{M}]+"
_MAY_HAVE_NOTES = r"[)\]]\s*$|\s-|\s(?:feat|ft|featuring)\b"
_STRING = pd.StringDtype("pyarrow")


def _S(value: str | None) -> pa.Scalar:
    return pa.scalar(value, pa.string())


class TitleKey(NamedTuple):
    """A title as compared: ``key`` (no case, accents, punctuation, credits or version notes) and ``notes``
    (the notes that change the recording, ``+``-joined; ``""`` for none)."""

    key: str
    notes: str


def as_arrow(values) -> pa.Array:
    """A column of text as one Arrow string array (missing values null)."""
    series = pd.Series(values, dtype="object") if not isinstance(values, pd.Series) else values
    array = pa.array(series.astype(pd.StringDtype("pyarrow")).array)
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    return array.cast(pa.string())


def plain_text(values) -> pa.Array:
    """Text as compared before keying: NFKC, case-folded, Latin/Greek/Cyrillic accents and typographic quotes
    made plain, runs of spaces made one and trimmed; missing values and placeholders ("Unknown Artist") null."""
    array = pc.utf8_trim_whitespace(as_arrow(values))
    folded = pc.utf8_lower(array)
    other = pc.invert(pc.fill_null(pc.string_is_ascii(array), True))
    if pc.any(other).as_py():
        text = pc.utf8_normalize(pc.utf8_lower(pc.utf8_normalize(array.filter(other), "NFKC")), "NFD")
        text = pc.replace_substring_regex(text, _ACCENTS, "")
        for old, new in _PLAIN:
            text = pc.replace_substring(text, old, new)
        folded = pc.replace_with_mask(folded, other, pc.utf8_normalize(text, "NFC"))
    folded = _where(folded, r"\s\s", lambda text: pc.replace_substring_regex(text, r"\s{2,}", " "))
    folded = pc.utf8_trim_whitespace(folded)
    placeholder = pc.is_in(folded, value_set=pa.array(sorted(MISSING_MARKERS)))
    return pc.if_else(pc.fill_null(placeholder, True), _S(None), folded)


def _where(text: pa.Array, pattern: str, rewrite) -> pa.Array:
    """``text`` with ``rewrite`` applied to the values ``pattern`` matches (the others are not touched)."""
    hit = pc.fill_null(pc.match_substring_regex(text, pattern), False)
    if not pc.any(hit).as_py():
        return text
    return pc.replace_with_mask(text, hit, rewrite(text.filter(hit)))


def _key(text: pa.Array) -> pa.Array:
    """The comparison key of a name part: ``&``/``+`` read as "and", a leading "The " (or trailing ", The")
    dropped, "Pt." read as "part", then letters and digits only; a name of punctuation alone ("!!!") keeps
    its punctuation."""
    text = _where(text, r"[&+]", lambda t: pc.replace_substring_regex(t, r"\s*[&+]\s*", " and "))
    text = _where(text, r"^the\s+\S|,\s*the$", lambda t: pc.replace_substring_regex(t, r"^the\s+(\S)|,\s*the$", r"\1"))
    text = _where(text, r"\bpt\b", lambda t: pc.replace_substring_regex(t, r"\bpt\b\.?", "part"))
    key = pc.replace_substring_regex(text, _NOT_KEPT, "")
    empty = pc.fill_null(pc.equal(key, _S("")), False)
    bare = pc.replace_substring_regex(text.filter(empty), r"\s+", "")
    return pc.replace_with_mask(key, empty, bare)


def _distinct(values) -> tuple[pa.Array, np.ndarray]:
    """The distinct values of a column (names repeat: each is keyed once) and each row's position among them."""
    codes, uniques = pd.factorize(pd.Series(as_arrow(values), dtype=_STRING))
    return as_arrow(uniques), codes


def _spread(values: pa.Array, codes: np.ndarray) -> pa.Array:
    return values.take(pa.array(codes, mask=codes < 0))


def _extract(text: pa.Array, pattern: str, group: str) -> pa.Array:
    """``group`` of ``pattern`` in each value it matches; the value itself elsewhere."""
    return _where(text, pattern, lambda t: pc.struct_field(pc.extract_regex(t, pattern), group))


def artist_keys(values) -> pd.DataFrame:
    """``key`` of every artist credit, featured artists ("A feat. B", "A ft. B", "A with B") dropped, and
    ``first``: the key of the first name it lists ("A & B", "A, B", "A / B", "A and B" → ``a``); a frame
    aligned with ``values``."""
    distinct, codes = _distinct(values)
    main = _extract(plain_text(distinct), _ARTIST_CREDIT, "main")
    first = _extract(main, _FIRST_CREDIT, "first")
    index = values.index if isinstance(values, pd.Series) else None
    keys = {
        name: pd.array(_spread(_key(text), codes), dtype=_STRING) for name, text in (("key", main), ("first", first))
    }
    return pd.DataFrame(keys, index=index)


def _matches(text: pa.Array, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(text, pattern), False).to_numpy(zero_copy_only=False)


def _read_notes(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The titles ``text`` without their trailing credits and notes, and their ``notes``."""
    n = len(text)
    found = {kind: np.zeros(n, dtype=bool) for kind in KINDS}
    remixer = np.full(n, None, dtype=object)
    at = np.arange(n)  # rows whose last note was stripped: read the next one
    for _ in range(MAX_NOTES):
        parts = pc.extract_regex(text.take(pa.array(at)), _TRAILING)
        hit = pc.is_valid(parts).to_numpy(zero_copy_only=False)
        at, parts = at[hit], parts.filter(pa.array(hit))
        if not len(at):
            break
        tail = pc.binary_join_element_wise(*(pc.struct_field(parts, g) for g in ("dash", "paren", "brack")), _S(""))
        credit = _matches(tail, _CREDIT) | pc.not_equal(pc.struct_field(parts, "feat"), _S("")).to_numpy(
            zero_copy_only=False
        )
        versioned = pc.replace_substring_regex(tail, *_MIX_AS_VERSION)
        kinds = {kind: _matches(versioned, pattern) & ~credit for kind, pattern in KINDS.items()}
        marked = np.logical_or.reduce(list(kinds.values()))
        strip = credit | marked | _matches(tail, _FROM) | _matches(versioned, _NEUTRAL_WORDS)
        for kind, hits in kinds.items():
            found[kind][at[hits & strip]] = True
        name = _key(pc.replace_substring_regex(versioned, _REMIX_WORDS, ""))
        fresh = kinds["remix"] & strip & (remixer[at] == None)  # noqa: E711 (element-wise)
        remixer[at[fresh]] = name.filter(pa.array(fresh)).to_numpy(zero_copy_only=False)
        at = at[strip]
        mask = np.zeros(n, dtype=bool)
        mask[at] = True
        head = pc.replace_substring_regex(pc.struct_field(parts, "head").filter(pa.array(strip)), r"[\s-]+$", "")
        text = pc.replace_with_mask(text, pa.array(mask), head)
    remixer = pa.array(remixer, pa.string())
    remix = pc.if_else(
        pc.fill_null(pc.equal(remixer, _S("")), True),
        _S("remix+"),
        pc.binary_join_element_wise(_S("remix:"), remixer, _S("+"), _S("")),
    )
    labels = [pc.if_else(pa.array(found[k]), remix if k == "remix" else _S(k + "+"), _S("")) for k in KINDS]
    return text, pc.replace_substring_regex(pc.binary_join_element_wise(*labels, _S("")), r"\+$", "")


def title_keys(values) -> pd.DataFrame:
    """``key`` and ``notes`` (see :class:`TitleKey`) of every title, as a frame aligned with ``values``.

    Up to :data:`MAX_NOTES` trailing notes are read, last first: credits and neutral notes are dropped, notes
    of :data:`KINDS` become ``notes``, and the first unknown note ("(Part 2)", "(Reprise)") stays in the key
    with everything before it."""
    distinct, codes = _distinct(values)
    folded = plain_text(distinct)
    noted = pc.fill_null(pc.match_substring_regex(folded, _MAY_HAVE_NOTES), False)
    head, notes = folded, pc.if_else(pc.is_null(folded), _S(None), _S(""))
    if pc.any(noted).as_py():
        stripped, found = _read_notes(folded.filter(noted))
        head, notes = pc.replace_with_mask(folded, noted, stripped), pc.replace_with_mask(notes, noted, found)
    index = values.index if isinstance(values, pd.Series) else None
    keys = {"key": _spread(_key(head), codes), "notes": _spread(notes, codes)}
    return pd.DataFrame({name: pd.array(column, dtype=_STRING) for name, column in keys.items()}, index=index)


def normalise_artist(text: str | None) -> str:
    """The key an artist credit is compared by: ``"The Beatles feat. Billy Preston"`` → ``"beatles"``;
    ``""`` when missing."""
    key = artist_keys([text])["key"].iloc[0]
    return "" if pd.isna(key) else key


def normalise_title(text: str | None) -> TitleKey:
    """The key and recording notes of a title: ``"Hey Jude - Live / Remastered 2009"`` →
    ``TitleKey("heyjude", "live")``; ``TitleKey("", "")`` when missing."""
    row = title_keys(pd.Series([text], dtype="object")).iloc[0]
    return TitleKey(row["key"] if pd.notna(row["key"]) else "", row["notes"] if pd.notna(row["notes"]) else "")


# --------------------------------------------------------------------------------------------------- ids

_SPOTIFY = (
    r"^(?:spotify:track:|https?://open\.spotify\.com/(?:intl-[\w-]+/)?(?:embed/)?track/)([0-9A-Za-z]{22})(?:[?#/].*)?$"
)
_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# id columns a source or catalogue may carry, and how their values are read
ID_COLUMNS = {"spotify_uri": "spotify", "mbid": "mbid", "recording_mbid": "mbid", "isrc": "isrc", "path": "path"}


def canonical_ids(values, kind: str | None = None) -> pa.Array:
    """Ids as compared: Spotify track URIs and URLs (``https://open.spotify.com/track/ID?si=…``) as
    ``spotify:track:ID``, a bare 22-character id too in a ``spotify`` column; MBIDs (UUIDs) lower-case; ISRCs
    upper-case without dashes or spaces (``isrc`` columns); anything else (paths, text ids) as given, trimmed."""
    text = pc.utf8_trim_whitespace(as_arrow(values))
    if kind == "isrc":
        text = pc.utf8_upper(pc.replace_substring_regex(text, r"[\s-]+", ""))
    if kind == "spotify":
        text = pc.replace_substring_regex(text, r"^([0-9A-Za-z]{22})$", r"spotify:track:\1")
    text = _where(text, r"open\.spotify\.com/", lambda t: pc.replace_substring_regex(t, _SPOTIFY, r"spotify:track:\1"))
    text = _where(text, _UUID, pc.utf8_lower)
    return pc.if_else(pc.fill_null(pc.equal(text, _S("")), True), _S(None), text)
