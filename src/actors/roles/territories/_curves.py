"""Space-filling curves: a point of the unit cube to its index along the curve.

Two curves, both over ``dims`` dimensions with ``bits`` bits per coordinate
(so indices run over ``0 .. 2**(dims*bits) - 1``):

* **Z-order** (Morton): the coordinates' bits interleaved. Cheap; jumps across
  the space at every power-of-two boundary.
* **Hilbert**: Skilling's transpose algorithm ("Programming the Hilbert curve",
  2004). Consecutive indices are always neighbouring cells, so a contiguous
  range of indices is a compact region: better locality than Z-order.

Pure functions of their arguments; no randomness, no time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._errors import InvalidTerritoryConfig

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["CURVES", "hilbert_index", "quantize", "z_order_index"]


def quantize(point: Sequence[float], bits: int) -> list[int]:
    """Each coordinate in ``[0, 1]`` to an integer cell in ``0 .. 2**bits - 1``."""
    top = (1 << bits) - 1
    cells = []
    for axis, value in enumerate(point):
        if not 0.0 <= value <= 1.0:
            raise InvalidTerritoryConfig(f"point[{axis}]", "must lie in [0, 1]", value)
        cells.append(min(top, int(value * (top + 1))))
    return cells


def z_order_index(cells: Sequence[int], bits: int) -> int:
    """Interleave the bits of ``cells`` (most significant first)."""
    index = 0
    for bit in range(bits - 1, -1, -1):
        for cell in cells:
            index = (index << 1) | ((cell >> bit) & 1)
    return index


def hilbert_index(cells: Sequence[int], bits: int) -> int:
    """The Hilbert index of ``cells`` (Skilling's axes-to-transpose, then interleave)."""
    x = list(cells)
    n = len(x)
    m = 1 << (bits - 1)
    # Inverse undo of excess work.
    q = m
    while q > 1:
        p = q - 1
        for i in range(n):
            if x[i] & q:
                x[0] ^= p
            else:
                t = (x[0] ^ x[i]) & p
                x[0] ^= t
                x[i] ^= t
        q >>= 1
    # Gray encode.
    for i in range(1, n):
        x[i] ^= x[i - 1]
    t = 0
    q = m
    while q > 1:
        if x[n - 1] & q:
            t ^= q - 1
        q >>= 1
    for i in range(n):
        x[i] ^= t
    return z_order_index(x, bits)


CURVES = {"hilbert": hilbert_index, "z-order": z_order_index}
"""The curves by configuration name."""
