"""The learned second stage: a LightGBM LambdaRank model over each candidate's evidence and popularity.

(Work in progress: the parameters of the stage.)
"""

from __future__ import annotations

from dataclasses import dataclass

from gems.errors import ParameterError


@dataclass(frozen=True)
class RankerParams:
    """The ``[ranker]`` section: whether and how ``gems build`` trains the learned second stage."""

    enabled: bool = True

    def __post_init__(self):
        if not isinstance(self.enabled, bool):
            raise ParameterError(f"enabled must be true or false, got {self.enabled!r}")
