"""Pipeline files (TOML): which sources to read and which parameters to build with.

Relative paths in a pipeline file are relative to the file's own folder. Command-line flags override the file.
Every section and key is checked: a typo is an error that names the file, the section and the known keys.

    [sources]                      # at least one of catalog, audio, listens
    catalog = "../data/demo/tracks.csv"
    audio = "../data/demo/audio"   # a folder, or a list of folders, scanned for audio files
    listens = "../data/demo/listens.csv"   # one listens source, described by the three keys below...
    listens_format = "auto"
    listens_simulated = true       # say "simulated" wherever listener counts are shown
    [sources.listens_columns]      # map roles to column names: user, track, weight, timestamp, title, ...
    weight = "plays"

    [[sources.listens]]            # ...or several, each its own table (then without the keys above)
    path = "../data/mpd/slices"
    format = "mpd"                 # optional: auto; columns = {...} and simulated = true optional too

    [model]  path = "../models/demo"
    [audio]  excerpt_s, workers, min_duration_s   (AudioParams, below)
    [cf]     factors, regularization, iterations, alpha, confidence   (gems.cf.CFParams)
    [neighbours] k                      (gems.neighbours.NeighbourParams)
    [popularity] head_share             (gems.popularity.PopularityParams)
    [index]  audio_weight               (gems.index.IndexParams)
    [ranker] enabled, ...               (the learned second stage: gems.rank.learned.RankerParams)
    [rank]   discount, per_soundtrack, k, tail_share, weight_cf, ... (gems.rank.options.RankOptions)
    [dask]   scheduler = "tcp://scheduler:8786"   # audio extraction and export run on this Dask cluster

Each section is a parameter class that declares its defaults and ranges once (:mod:`gems.params`); every value is
checked when the file is read: a bad one is a ParameterError naming the file, the section and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from gems.audio.params import AudioParams
from gems.cf import CFParams
from gems.errors import ParameterError
from gems.index import IndexParams
from gems.neighbours import NeighbourParams
from gems.params import Params
from gems.popularity import PopularityParams
from gems.rank.learned import RankerParams
from gems.rank.options import RankOptions


@dataclass(frozen=True)
class DaskParams(Params):
    """``scheduler``: address of a Dask scheduler (``tcp://host:8786``) that runs audio extraction and batch
    export; empty: local worker processes. Not part of any stage's fingerprint: where work runs never changes
    what it produces."""

    scheduler: str = ""


@dataclass(frozen=True)
class ListensSource:
    """One listens source of a build: ``path`` (file, folder or zip), ``format`` (``auto``: detected),
    ``columns`` (role -> column, for generic tables), ``simulated`` (say so wherever listener counts show)."""

    path: Path
    format: str = "auto"
    columns: dict[str, str] = field(default_factory=dict)
    simulated: bool = False

    @classmethod
    def parse(cls, text: str, *, format: str = "auto", columns: dict[str, str] | None = None) -> ListensSource:
        """``PATH`` or ``PATH:FORMAT`` (the suffix counts only when it names a format gems reads)."""
        from gems.ingest.formats import ALIASES, FORMAT_MODULES

        head, sep, tail = str(text).rpartition(":")
        if sep and head and (tail in FORMAT_MODULES or tail in ALIASES or tail == "auto"):
            return cls(Path(head), tail, dict(columns or {}))
        return cls(Path(text), format, dict(columns or {}))


@dataclass(frozen=True)
class BuildConfig:
    """Everything a build needs; ``fingerprint``-relevant parts are the params and the sources.

    ``audio``: audio folders; ``listens``: :class:`ListensSource` s, linked into one catalogue in this order
    (:mod:`gems.ingest.combine`). A single path is taken for a one-element tuple."""

    model: Path
    catalog: Path | None = None
    audio: tuple[Path, ...] = ()
    listens: tuple[ListensSource, ...] = ()
    audio_params: AudioParams = field(default_factory=AudioParams)
    cf: CFParams = field(default_factory=CFParams)
    neighbours: NeighbourParams = field(default_factory=NeighbourParams)
    popularity: PopularityParams = field(default_factory=PopularityParams)
    index: IndexParams = field(default_factory=IndexParams)
    ranker: RankerParams = field(default_factory=RankerParams)
    rank: RankOptions = field(default_factory=RankOptions)
    dask: DaskParams = field(default_factory=DaskParams)

    def __post_init__(self):
        if isinstance(self.audio, str | Path):
            object.__setattr__(self, "audio", (Path(self.audio),))
        if isinstance(self.listens, str | Path | ListensSource):
            single = self.listens if isinstance(self.listens, ListensSource) else ListensSource(Path(self.listens))
            object.__setattr__(self, "listens", (single,))
        object.__setattr__(self, "audio", tuple(Path(a) for a in self.audio or ()))
        object.__setattr__(self, "listens", tuple(self.listens or ()))

    @property
    def simulated(self) -> bool:
        """Whether any listens source is a simulated log."""
        return any(source.simulated for source in self.listens)

    def with_overrides(self, **overrides: Any) -> BuildConfig:
        """A copy with the given top-level fields replaced (``None`` values and empty sequences are ignored)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None and v != () and v != []})

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["model"] = str(self.model)
        out["catalog"] = None if self.catalog is None else str(self.catalog)
        out["audio"] = [str(folder) for folder in self.audio]
        out["listens"] = [{**asdict(source), "path": str(source.path)} for source in self.listens]
        out["rank"] = self.rank.to_section()
        return out


_SECTIONS = {
    "audio": AudioParams,
    "cf": CFParams,
    "neighbours": NeighbourParams,
    "popularity": PopularityParams,
    "index": IndexParams,
    "ranker": RankerParams,
    "dask": DaskParams,
}
_SOURCE_KEYS = {"catalog", "audio", "listens", "listens_format", "listens_columns", "listens_simulated"}
_LISTENS_KEYS = {"path", "format", "columns", "simulated"}


def _listens_sources(sources: dict, where: str, resolve) -> tuple[ListensSource, ...]:
    """The listens sources of a ``[sources]`` section: the one-source keys, or ``[[sources.listens]]`` tables."""
    value = sources.get("listens")
    if value is None:
        return ()
    if isinstance(value, str):
        return (
            ListensSource(
                resolve(value),
                str(sources.get("listens_format", "auto")),
                dict(sources.get("listens_columns", {})),
                bool(sources.get("listens_simulated", False)),
            ),
        )
    if not isinstance(value, list) or not all(isinstance(table, dict) for table in value):
        raise ParameterError(f"{where}: listens must be a path or [[sources.listens]] tables, found {value!r}")
    if set(sources) & {"listens_format", "listens_columns", "listens_simulated"}:
        raise ParameterError(f"{where}: with [[sources.listens]] tables, give format/columns/simulated in each table")
    out = []
    for i, table in enumerate(value, 1):
        bad = sorted(set(table) - _LISTENS_KEYS)
        if bad or "path" not in table:
            raise ParameterError(
                f"{where} listens table {i}: needs path, may have {', '.join(sorted(_LISTENS_KEYS - {'path'}))}; "
                f"found {', '.join(sorted(table))}"
            )
        out.append(
            ListensSource(
                resolve(table["path"]),
                str(table.get("format", "auto")),
                dict(table.get("columns", {})),
                bool(table.get("simulated", False)),
            )
        )
    return tuple(out)


def load_pipeline(path: str | Path) -> BuildConfig:
    """Read a pipeline TOML file into a :class:`BuildConfig` (paths resolved against the file's folder)."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"pipeline file {path} does not exist (see pipelines/demo.toml for an example)")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path} is not valid TOML: {exc}") from exc
    base = path.parent
    unknown = sorted(set(data) - set(_SECTIONS) - {"sources", "model", "rank"})
    if unknown:
        raise ParameterError(
            f"{path}: unknown section(s) {', '.join(unknown)}; known are sources, model, rank, {', '.join(_SECTIONS)}"
        )
    sources = data.get("sources", {})
    bad = sorted(set(sources) - _SOURCE_KEYS)
    if bad:
        raise ParameterError(
            f"{path} [sources]: unknown key(s) {', '.join(bad)}; known are {', '.join(sorted(_SOURCE_KEYS))}"
        )

    def resolve(value: str | None) -> Path | None:
        return None if value is None else (base / value).resolve()

    audio = sources.get("audio", [])
    audio = [audio] if isinstance(audio, str) else audio
    if not isinstance(audio, list) or not all(isinstance(folder, str) for folder in audio):
        raise ParameterError(f"{path} [sources]: audio must be a folder or a list of folders, found {audio!r}")

    model = data.get("model", {})
    if set(model) - {"path"}:
        raise ParameterError(f"{path} [model]: only 'path' is known")
    return BuildConfig(
        model=resolve(model.get("path")) or (base / "models" / path.stem).resolve(),
        catalog=resolve(sources.get("catalog")),
        audio=tuple(resolve(folder) for folder in audio),
        listens=_listens_sources(sources, f"{path} [sources]", resolve),
        rank=RankOptions.from_section(data.get("rank", {}), f"{path} [rank]"),
        **{
            ("audio_params" if name == "audio" else name): cls.from_section(data.get(name, {}), f"{path} [{name}]")
            for name, cls in _SECTIONS.items()
        },
    )
