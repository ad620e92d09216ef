"""How to rank: the one definition of every ranking option, its default and its range.

A pipeline file's ``[rank]`` section and a model's ``rank_defaults`` spell the options as the fields below,
with the weights of the evidence kinds spelled ``weight_<kind>`` and ``tail_weight_<kind>`` (kinds: cf, near,
audio, kin); the CLI, the web page and export override single options per query.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from gems.errors import ParameterError

KINDS = ("cf", "near", "audio", "kin")


@dataclass(frozen=True)
class RankOptions:
    """How to rank (see :mod:`gems.rank` for what each option does to a list).

    k: list length · discount: popularity discount strength, score × (1 + listeners)^−discount · per_soundtrack:
    at most this many picks per soundtrack (0 = no cap) · tail_share: share of the k places reserved for
    long-tail tracks · calibrated: reserved places follow the query's own long-tail share · weights /
    tail_weights: the blend of the evidence kinds for the list / for the reserved places (None: ``weights``) ·
    scope: ``all`` or ``soundtrack`` (soundtrack music only) · deep_cuts: only the non-theme tracks of the
    soundtracks the query loves · learned: rank with the model's learned second stage when it has one ·
    hit_spacing: with a discount, the first j · hit_spacing places hold at most j hits (popularity percentile
    ≥ 99; 0 = no spacing).
    """

    k: int = 10
    discount: float = 1.0
    per_soundtrack: int = 0
    tail_share: float = 0.0
    calibrated: bool = True
    weights: tuple[float, ...] = (0.7, 0.3, 0.5, 0.2)
    tail_weights: tuple[float, ...] | None = (0.3, 0.7, 0.5, 1.0)
    scope: str = "all"
    deep_cuts: bool = False
    learned: bool = True
    hit_spacing: int = 10

    def __post_init__(self):
        _check_int("k", self.k, 1, 10_000)
        _check_number("discount", self.discount, 0.0, 10.0)
        _check_int("per_soundtrack", self.per_soundtrack, 0, 10_000)
        _check_number("tail_share", self.tail_share, 0.0, 1.0)
        _check_int("hit_spacing", self.hit_spacing, 0, 10_000)
        for name in ("calibrated", "deep_cuts", "learned"):
            if not isinstance(getattr(self, name), bool):
                raise ParameterError(f"{name} must be true or false, got {getattr(self, name)!r}")
        for name, weights in (("weights", self.weights), ("tail weights", self.tail_weights or self.weights)):
            numbers = all(isinstance(w, int | float) and not isinstance(w, bool) and math.isfinite(w) for w in weights)
            if len(weights) != len(KINDS) or not numbers or min(weights) < 0 or sum(weights) <= 0:
                raise ParameterError(
                    f"{name} must be {len(KINDS)} finite non-negative numbers ({', '.join(KINDS)}) not all 0, "
                    f"got {tuple(weights)}"
                )
        if self.scope not in ("all", "soundtrack"):
            raise ParameterError(f"scope must be 'all' or 'soundtrack', got '{self.scope}'")

    @property
    def tail_places(self) -> int:
        """⌈tail_share · k⌉: the reserved places when not calibrated."""
        return math.ceil(self.tail_share * self.k - 1e-9)

    def with_overrides(self, **overrides) -> RankOptions:
        """A copy with the given options replaced (None values ignored)."""
        return replace(self, **{key: value for key, value in overrides.items() if value is not None})

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
        values = {key: section[key] for key in plain if key in section}
        for name, prefix in (("weights", "weight_"), ("tail_weights", "tail_weight_")):
            if any(f"{prefix}{kind}" in section for kind in KINDS):
                base = getattr(defaults, name) or defaults.weights
                values[name] = tuple(section.get(f"{prefix}{kind}", w) for kind, w in zip(KINDS, base))
        for key, value in list(values.items()):
            expected = type(getattr(defaults, key)) if key not in ("weights", "tail_weights") else tuple
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                values[key] = float(value)
            elif expected is not tuple and (
                not isinstance(value, expected) or isinstance(value, bool) != (expected is bool)
            ):
                raise ParameterError(f"{where}: {key} must be a {expected.__name__}, found {value!r}")
        try:
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


def _check_number(name: str, value, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ParameterError(f"{name} must be a finite number between {low:g} and {high:g}, got {value!r}")
    if not low <= value <= high:
        raise ParameterError(f"{name} must be between {low:g} and {high:g}, got {value:g}")


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(f"{name} must be a whole number between {low} and {high}, got {value!r}")
    if not low <= value <= high:
        raise ParameterError(f"{name} must be between {low} and {high}, got {value}")
