"""Errors of cluster membership.

The tree::

    ActorError
    └── JoinRefused     the seeds refused this node for a reason retrying cannot fix
"""

from __future__ import annotations

from .. import ActorError

__all__ = ["JoinRefused"]


class JoinRefused(ActorError):
    """A seed refused this node ``attempts`` times in a row for a reason retrying cannot fix.

    ``reason`` is ``"authentication"`` (not the same cluster secret),
    ``"cluster_mismatch"`` (another cluster name), ``"protocol_version"`` or
    ``"duplicate_name"`` (a node of this node's name already runs);
    ``seed`` is the ``HOST:PORT`` that refused.
    """

    def __init__(self, node: str, seed: str, reason: str, detail: str, attempts: int) -> None:
        super().__init__(
            f"node {node!r} cannot join the cluster through {seed} "
            f"({reason}, {attempts} attempts): {detail}"
        )
        self.node = node
        self.seed = seed
        self.reason = reason
        self.detail = detail
        self.attempts = attempts
