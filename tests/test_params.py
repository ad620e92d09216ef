"""Every parameter class declares each numeric or boolean field's allowed values in its one constraints table."""

from __future__ import annotations

from dataclasses import fields

import pytest

from gems.audio.params import AudioParams
from gems.cf import ALSModel, CFParams
from gems.config import DaskParams
from gems.errors import ParameterError
from gems.index import IndexParams
from gems.neighbours import ItemNeighbours, NeighbourParams
from gems.params import Interval, Params
from gems.popularity import PopularityParams
from gems.rank.learned import RankerParams
from gems.rank.options import RankOptions

CLASSES = [AudioParams, CFParams, NeighbourParams, PopularityParams, IndexParams, RankerParams, RankOptions, DaskParams]


def test_every_parameter_class_is_listed_here():
    def subclasses(cls):
        return {cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))}

    assert subclasses(Params) - {Params} == set(CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_number_and_flag_is_constrained_and_its_bounds_refused_beyond(cls):
    defaults = cls()
    for f in fields(cls):
        value = getattr(defaults, f.name)
        if isinstance(value, bool | int | float):
            assert f.name in cls.constraints, f"{cls.__name__}.{f.name} has no constraint"
    for name, constraint in cls.constraints.items():
        if not isinstance(constraint, Interval):
            continue
        low = getattr(defaults, constraint.low) if isinstance(constraint.low, str) else constraint.low
        high = getattr(defaults, constraint.high) if isinstance(constraint.high, str) else constraint.high
        step = 1 if constraint.kind is int else max(1e-6, abs(high) * 1e-6)
        for bad in (low - step, high + step, float("nan"), "7", True):
            with pytest.raises(ParameterError, match=name):
                cls(**{name: bad})


def test_the_estimators_take_their_defaults_and_ranges_from_the_parameter_classes():
    assert ALSModel().params == CFParams() and ItemNeighbours().params == NeighbourParams()
    with pytest.raises(ParameterError, match="factors must be between 1 and 4096"):
        ALSModel(factors=0)
    with pytest.raises(ParameterError, match="confidence must be one of"):
        ALSModel(confidence="cubic")


def test_a_section_names_where_a_bad_value_came_from():
    with pytest.raises(ParameterError, match=r"x.toml \[cf\]: factors must be an int, found 'many'"):
        CFParams.from_section({"factors": "many"}, "x.toml [cf]")
    assert CFParams.from_section({"alpha": 2}, "here").alpha == 2.0
    with pytest.raises(ParameterError, match="unknown ranking option"):
        RankOptions().with_overrides(discout=1)
    assert RankOptions().with_overrides(k=None, discount=0.5) == RankOptions(discount=0.5)
