"""Hypothesis support: let Hypothesis pick simulation seeds (and shrink a failure to one).

Hypothesis is a test dependency, not a runtime one: it is imported only when
:func:`seeds` is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = ["seeds"]


def seeds(*, max_value: int = 2**32 - 1) -> SearchStrategy[int]:
    """A Hypothesis strategy of simulation seeds in ``[0, max_value]``.

    Use it with ``@given(seed=seeds())`` and ``simulate(scenario, seed=seed)``;
    Hypothesis reports (and shrinks toward 0) the seed of a failing run.
    """
    from hypothesis import strategies as st

    return st.integers(min_value=0, max_value=max_value)
