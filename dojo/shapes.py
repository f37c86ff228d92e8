"""Keras's "an int or a pair of ints", in one place.

Keras accepts ``kernel_size=3``, ``strides=(2, 1)`` or a NumPy integer for a
window's height and width; code that needs both numbers calls :func:`as_pair`.
"""

from __future__ import annotations

import numbers


def as_pair(value) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``(2, 3)`` or ``[2, 3]`` -> ``(2, 3)``; NumPy integers count as ints.

    It converts and does not judge: a caller that must refuse a bad value (a
    zero stride, three numbers) checks the pair it gets back.
    """
    if isinstance(value, numbers.Integral):
        return (int(value), int(value))
    return tuple(int(v) for v in value)
