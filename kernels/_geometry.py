"""Output sizes and padding of sliding windows, as Keras computes them.

"valid": only windows that fit, ``out = floor((n - k) / s) + 1``.
"same":  ``out = ceil(n / s)``; the padding needed, ``max((out - 1) * s + k - n, 0)``,
is split with the odd extra row/column AFTER (bottom/right), as in TensorFlow.
"""

from __future__ import annotations

from typing import NamedTuple

from dojo.shapes import as_pair


class Window(NamedTuple):
    out_h: int
    out_w: int
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int


def pair(value, name: str) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``(2, 3)`` stays; anything else is refused, naming the argument."""
    value = as_pair(value)
    if len(value) != 2 or min(value) < 1:
        raise ValueError(f"{name} must be a positive int or a pair of them; received {name}={value!r}")
    return value


def _one_axis(size: int, window: int, stride: int, padding: str) -> tuple[int, int, int]:
    if padding == "valid":
        return max((size - window) // stride + 1, 0), 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return out, total // 2, total - total // 2


def window(height: int, width: int, size, strides, padding: str) -> Window:
    padding = padding.lower()
    if padding not in ("valid", "same"):
        raise ValueError(f'padding must be "valid" or "same"; received padding={padding!r}')
    (kh, kw), (sh, sw) = size, strides
    out_h, top, bottom = _one_axis(height, kh, sh, padding)
    out_w, left, right = _one_axis(width, kw, sw, padding)
    return Window(out_h, out_w, top, bottom, left, right)


def check_nhwc(x, name: str = "x") -> None:
    if x.ndim != 4:
        raise ValueError(f"{name} must be NHWC (batch, height, width, channels); received shape {tuple(x.shape)}")
