"""What readers of a stability monitor need of it, as protocols.

The dashboard (:mod:`actors.web`) and the admin actor (:mod:`actors.ctl`)
read a monitor through these, so that a test can hand them a stand-in;
:class:`~actors.ops.StabilityMonitor` and :class:`~actors.ops.Alert` fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["AlertLike", "MonitorLike"]


class AlertLike(Protocol):
    """What a reader needs of an active alert (:class:`~actors.ops.Alert` fits)."""

    @property
    def parameter(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def threshold(self) -> float: ...
    @property
    def message(self) -> str: ...
    @property
    def raised_at(self) -> float: ...


class MonitorLike(Protocol):
    """The order parameters and their alerts (:class:`~actors.ops.StabilityMonitor` fits).

    All three are synchronous reads of the monitor's current state, called on
    the event loop.
    """

    def snapshot(self) -> Mapping[str, float]:
        """Each order parameter's current value, by name."""
        ...

    def history(self, name: str) -> Sequence[float]:
        """The parameter's recent values, oldest first."""
        ...

    def active_alerts(self) -> Sequence[AlertLike]:
        """The alerts raised and not cleared yet."""
        ...
