"""Tadpole's work-stealing scheduler (standard library only)."""

__all__ = ()
