"""How to rank: the one definition of every ranking option, its default and its range.

A pipeline file's ``[rank]`` section and a model's ``rank_defaults`` spell the options as the fields below,
with the weights of the evidence kinds spelled ``weight_<kind>`` and ``tail_weight_<kind>`` (kinds: cf, near,
audio, kin); the CLI, the web page and export override single options per query.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import ClassVar

from gems.errors import ParameterError
from gems.params import BOOLEAN, Choice, Interval, Params, coerce

KINDS = ("cf", "near", "audio", "kin")


@dataclass(frozen=True)
class RankOptions(Params):
    """How to rank (see :mod:`gems.rank` for what each option does to a list).

    k: list length · discount: popularity discount strength, score × (1 + listeners)^−discount · per_soundtrack:
    at most this many picks per soundtrack (0 = no cap) · tail_share: share of the k places reserved for
    long-tail tracks · calibrated: reserved places follow the query's own long-tail share · weights /
    tail_weights: the blend of the evidence kinds for the list / for the reserved places (None: ``weights``) ·
    scope: ``all``, ``soundtrack`` (soundtrack music only) or ``auto`` (the build decides: soundtracks first when the
    model holds enough soundtrack music, :func:`gems.stages.default_scope`; ranks as ``all`` if never decided) · deep_cuts: only the non-theme tracks of the
    soundtracks the query loves · learned: rank with the model's learned second stage when it has one ·
    hit_spacing: with a discount, the first hit_spacing places hold at most one hit, and each later hit follows
    hit_spacing − 1 more other picks where the list has them (hits: popularity percentile ≥ 99; 0 = no spacing).
    """

    k: int = 10
    discount: float = 0.8
    per_soundtrack: int = 0
    tail_share: float = 0.0
    calibrated: bool = True
    weights: tuple[float, ...] = (0.7, 0.3, 0.5, 0.2)
    tail_weights: tuple[float, ...] | None = (0.3, 0.7, 0.5, 1.0)
    scope: str = "auto"
    deep_cuts: bool = False
    learned: bool = True
    hit_spacing: int = 10

    constraints: ClassVar = {
        "k": Interval(int, 1, 10_000),
        "discount": Interval(float, 0.0, 10.0),
        "per_soundtrack": Interval(int, 0, 10_000),
        "tail_share": Interval(float, 0.0, 1.0),
        "calibrated": BOOLEAN,
        "scope": Choice(("auto", "all", "soundtrack")),
        "deep_cuts": BOOLEAN,
        "learned": BOOLEAN,
        "hit_spacing": Interval(int, 0, 10_000),
    }

    def __post_init__(self):
        super().__post_init__()
        for name, weights in (("weights", self.weights), ("tail weights", self.tail_weights or self.weights)):
            numbers = all(isinstance(w, int | float) and not isinstance(w, bool) and math.isfinite(w) for w in weights)
            if len(weights) != len(KINDS) or not numbers or min(weights) < 0 or sum(weights) <= 0:
                raise ParameterError(
                    f"{name} must be {len(KINDS)} finite non-negative numbers ({', '.join(KINDS)}) not all 0, "
                    f"got {tuple(weights)}"
                )

    @property
    def tail_places(self) -> int:
        """⌈tail_share · k⌉: the reserved places when not calibrated."""
        return math.ceil(self.tail_share * self.k - 1e-9)

    def with_overrides(self, **query) -> RankOptions:
        """A copy with the options a query gives replaced — the one way every face (CLI flags, the web's query
        string, export) turns a request into options. None leaves an option as it is (not given); an unknown name
        is a ParameterError listing the known ones."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(query) - known)
        if unknown:
            raise ParameterError(
                f"unknown ranking option(s) {', '.join(unknown)}; known are {', '.join(sorted(known))}"
            )
        return replace(self, **{key: value for key, value in query.items() if value is not None})

    # -------------------------------------------------------------- as a pipeline section / manifest entry

    @classmethod
    def from_section(cls, section: dict, where: str = "[rank]") -> RankOptions:
        """Options from a ``[rank]`` section (keys: the fields, ``weight_<kind>``, ``tail_weight_<kind>``);
        missing keys take the defaults. ParameterError naming ``where`` for an unknown key or a bad value."""
        section = dict(section or {})
        plain = {f.name for f in fields(cls)} - {"weights", "tail_weights"}
        weight_keys = {f"{prefix}{kind}" for prefix in ("weight_", "tail_weight_") for kind in KINDS}
        unknown = sorted(set(section) - plain - weight_keys)
        if unknown:
            raise ParameterError(
                f"{where}: unknown key(s) {', '.join(unknown)}; known keys are "
                f"{', '.join(sorted(plain))}, weight_<kind> and tail_weight_<kind> for kinds {', '.join(KINDS)}"
            )
        defaults = cls()
        values = {}
        try:
            values = {key: coerce(defaults, key, section[key]) for key in plain if key in section}
            for name, prefix in (("weights", "weight_"), ("tail_weights", "tail_weight_")):
                if any(f"{prefix}{kind}" in section for kind in KINDS):
                    base = getattr(defaults, name) or defaults.weights
                    values[name] = tuple(section.get(f"{prefix}{kind}", w) for kind, w in zip(KINDS, base))
            return cls(**values)
        except ParameterError as exc:
            raise ParameterError(f"{where}: {exc}") from None

    def to_section(self) -> dict:
        """The ``[rank]`` section that :meth:`from_section` reads back into these options."""
        out = {key: value for key, value in asdict(self).items() if key not in ("weights", "tail_weights")}
        tail = self.tail_weights or self.weights
        out.update({f"weight_{kind}": float(w) for kind, w in zip(KINDS, self.weights)})
        out.update({f"tail_weight_{kind}": float(w) for kind, w in zip(KINDS, tail)})
        return out
