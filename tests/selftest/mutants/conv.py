"""Wrong and right ways to write katas/conv.py.

Each variant is spliced into a copy of solutions/conv.py, so the answer key's
names (``_pair``, ``_geometry``, ``_pad``, ``im2col``, ``conv2d_backward``, ...)
are in scope.
"""

import numpy as np
from mutation import SOLUTIONS, alternative, mutant

from dojo.course.implementation import Implementation

# Classes are subclassed, and a few originals captured as default arguments, when this file is
# imported; these bindings serve only that. Spliced into the answer key, the same code binds to
# that copy's own definitions.
_answer_key = Implementation(SOLUTIONS).module("conv")
Conv2D, MaxPooling2D, Flatten = _answer_key.Conv2D, _answer_key.MaxPooling2D, _answer_key.Flatten
conv2d_backward, max_pool2d, im2col = _answer_key.conv2d_backward, _answer_key.max_pool2d, _answer_key.im2col

# ------------------------------------------------------------ conv2d_naive


@mutant("conv.conv2d_naive", expect="kernel is flipped")
def conv2d_naive_flipped_kernel(x, kernel, bias, strides=(1, 1), padding="valid"):
    # The textbook (signal-processing) convolution flips the kernel.
    kernel = np.asarray(kernel, dtype=float)[::-1, ::-1]
    x, bias = np.asarray(x, dtype=float), np.asarray(bias, dtype=float)
    kh, kw, _, filters = kernel.shape
    sh, sw = _pair(strides)
    out_h, out_w, pads_h, pads_w = _geometry(x.shape, (kh, kw), (sh, sw), padding)
    padded = _pad(x, pads_h, pads_w)
    out = np.empty((x.shape[0], out_h, out_w, filters))
    for i in range(out_h):
        for j in range(out_w):
            window = padded[:, i * sh : i * sh + kh, j * sw : j * sw + kw, :]
            out[:, i, j, :] = np.tensordot(window, kernel, axes=3) + bias
    return out


@mutant("conv.conv2d_naive", expect="bias is missing")
def conv2d_naive_without_bias(x, kernel, bias, strides=(1, 1), padding="valid"):
    x, kernel = np.asarray(x, dtype=float), np.asarray(kernel, dtype=float)
    kh, kw, _, filters = kernel.shape
    sh, sw = _pair(strides)
    out_h, out_w, pads_h, pads_w = _geometry(x.shape, (kh, kw), (sh, sw), padding)
    padded = _pad(x, pads_h, pads_w)
    out = np.empty((x.shape[0], out_h, out_w, filters))
    for i in range(out_h):
        for j in range(out_w):
            out[:, i, j, :] = np.tensordot(padded[:, i * sh : i * sh + kh, j * sw : j * sw + kw, :], kernel, axes=3)
    return out


@mutant("conv.conv2d_naive", expect=r"padding is symmetric")
def conv2d_naive_symmetric_same_padding(x, kernel, bias, strides=(1, 1), padding="valid"):
    # PyTorch's habit: pad k // 2 on every side, then keep ceil(in / stride) outputs.
    x, kernel, bias = (np.asarray(a, dtype=float) for a in (x, kernel, bias))
    kh, kw, _, filters = kernel.shape
    sh, sw = _pair(strides)
    out_h, out_w, _, _ = _geometry(x.shape, (kh, kw), (sh, sw), padding)
    pads_h, pads_w = ((kh // 2, kh // 2), (kw // 2, kw // 2)) if padding == "same" else ((0, 0), (0, 0))
    padded = _pad(x, pads_h, pads_w)
    out = np.empty((x.shape[0], out_h, out_w, filters))
    for i in range(out_h):
        for j in range(out_w):
            window = padded[:, i * sh : i * sh + kh, j * sw : j * sw + kw, :]
            out[:, i, j, :] = np.tensordot(window, kernel, axes=3) + bias
    return out


@mutant("conv.conv2d_naive", expect=r"output \d+x\d+, expected \d+x\d+: with padding='valid' the output size is floor")
def conv2d_naive_ceil_for_valid(x, kernel, bias, strides=(1, 1), padding="valid"):
    # ceil((in - k) / s) + 1 instead of floor: one window too many when the stride does not divide evenly,
    # "fixed" by padding the end so that the slices do not run short.
    x, kernel, bias = (np.asarray(a, dtype=float) for a in (x, kernel, bias))
    kh, kw, _, filters = kernel.shape
    sh, sw = _pair(strides)
    if padding == "valid":
        out_h, out_w = -(-(x.shape[1] - kh) // sh) + 1, -(-(x.shape[2] - kw) // sw) + 1
        padded = _pad(x, (0, sh), (0, sw))
    else:
        out_h, out_w, pads_h, pads_w = _geometry(x.shape, (kh, kw), (sh, sw), padding)
        padded = _pad(x, pads_h, pads_w)
    out = np.empty((x.shape[0], out_h, out_w, filters))
    for i in range(out_h):
        for j in range(out_w):
            window = padded[:, i * sh : i * sh + kh, j * sw : j * sw + kw, :]
            out[:, i, j, :] = np.tensordot(window, kernel, axes=3) + bias
    return out


@alternative("conv.conv2d_naive")
def conv2d_naive_with_six_loops(x, kernel, bias, strides=(1, 1), padding="valid"):
    # The most literal version: one multiply-add at a time, padding handled by bounds checks.
    x, kernel, bias = (np.asarray(a, dtype=float) for a in (x, kernel, bias))
    batch, height, width, in_ch = x.shape
    kh, kw, _, filters = kernel.shape
    sh, sw = _pair(strides)
    if padding == "same":
        out_h, out_w = -(-height // sh), -(-width // sw)
        top = max((out_h - 1) * sh + kh - height, 0) // 2
        left = max((out_w - 1) * sw + kw - width, 0) // 2
    else:
        out_h, out_w, top, left = (height - kh) // sh + 1, (width - kw) // sw + 1, 0, 0
    out = np.zeros((batch, out_h, out_w, filters))
    for b in range(batch):
        for i in range(out_h):
            for j in range(out_w):
                for f in range(filters):
                    total = bias[f]
                    for di in range(kh):
                        for dj in range(kw):
                            r, c = i * sh + di - top, j * sw + dj - left
                            if 0 <= r < height and 0 <= c < width:
                                total += x[b, r, c, :] @ kernel[di, dj, :, f]
                    out[b, i, j, f] = total
    return out


# ------------------------------------------------------------------ im2col


@mutant("conv.im2col", expect=r"\(in_ch, kh, kw\) order")
def im2col_channels_first_rows(x, kernel_size, strides=(1, 1), padding="valid"):
    patches = _patches(np.asarray(x, dtype=float), kernel_size, strides, padding)
    return patches.transpose(0, 1, 2, 5, 3, 4).reshape(-1, int(np.prod(patches.shape[3:])))


@mutant("conv.im2col", expect=r"padding=?'same'|ceil")
def im2col_ignores_same_padding(x, kernel_size, strides=(1, 1), padding="valid"):
    patches = _patches(np.asarray(x, dtype=float), kernel_size, strides, "valid")
    return patches.reshape(-1, int(np.prod(patches.shape[3:])))


@mutant("conv.im2col", expect="padding is symmetric")
def im2col_symmetric_same_padding(x, kernel_size, strides=(1, 1), padding="valid", _solution=im2col):
    x = np.asarray(x, dtype=float)
    kh, kw = _pair(kernel_size)
    if padding == "same":  # MISTAKE: k // 2 on every side, whatever the stride and size
        x = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    return _solution(x, kernel_size, strides, "valid")


@mutant("conv.im2col", expect=r"rows? \(1 before, 1 after\).*max\(k - stride, 0\) gives the same only where")
def im2col_same_padding_from_kernel_minus_stride(x, kernel_size, strides=(1, 1), padding="valid"):
    # MISTAKE: 'same' total padding = max(k - s, 0), half of TF's documented rule (true only where s divides
    # the size); the windows are then counted from the padded input, as for 'valid'.
    x = np.asarray(x, dtype=float)
    (kh, kw), (sh, sw) = _pair(kernel_size), _pair(strides)
    if padding == "same":
        th, tw = max(kh - sh, 0), max(kw - sw, 0)
        x = np.pad(x, ((0, 0), (th // 2, th - th // 2), (tw // 2, tw - tw // 2), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, kh * kw * x.shape[3])


@mutant("conv.im2col", expect=r"ceil\(7/2\) = 4")
def im2col_same_output_size_floored(x, kernel_size, strides=(1, 1), padding="valid"):
    # MISTAKE: 'same' output size in // s (equal to ceil(in / s) whenever s divides the size).
    x = np.asarray(x, dtype=float)
    (kh, kw), (sh, sw) = _pair(kernel_size), _pair(strides)
    if padding == "same":
        pads = []
        for size, k, s in ((x.shape[1], kh, sh), (x.shape[2], kw, sw)):
            total = max((size // s - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, kh * kw * x.shape[3])


@alternative("conv.im2col")
def im2col_with_sliding_window_view(x, kernel_size, strides=(1, 1), padding="valid"):
    x = np.asarray(x, dtype=float)
    (kh, kw), (sh, sw) = _pair(kernel_size), _pair(strides)
    _, _, pads_h, pads_w = _geometry(x.shape, (kh, kw), (sh, sw), padding)
    padded = _pad(x, pads_h, pads_w)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    # windows: (batch, out_h, out_w, in_ch, kh, kw) -> rows in (kh, kw, in_ch) order
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, kh * kw * x.shape[3])


# ------------------------------------------------------------------ conv2d


@mutant("conv.conv2d", expect="bias is missing")
def conv2d_without_bias(x, kernel, bias, strides=(1, 1), padding="valid"):
    x, kernel = np.asarray(x, dtype=float), np.asarray(kernel, dtype=float)
    kh, kw, _, filters = kernel.shape
    out_h, out_w, _, _ = _geometry(x.shape, (kh, kw), strides, padding)
    return (im2col(x, (kh, kw), strides, padding) @ kernel.reshape(-1, filters)).reshape(
        x.shape[0], out_h, out_w, filters
    )


@mutant("conv.conv2d", expect=r"never a negative amount")
def conv2d_without_max_zero(x, kernel, bias, strides=(1, 1), padding="valid"):
    """'same' padding total = (out - 1) * s + k - in, without max(..., 0): negative when k < s."""
    x, kernel, bias = (np.asarray(a, dtype=float) for a in (x, kernel, bias))
    kh, kw, _, filters = kernel.shape
    (sh, sw), pads = _pair(strides), []
    for size, k, s in ((x.shape[1], kh, sh), (x.shape[2], kw, sw)):
        out = -(-size // s) if padding == "same" else (size - k) // s + 1
        total = (out - 1) * s + k - size if padding == "same" else 0
        pads.append((total // 2, total - total // 2))
    padded = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    return conv2d_naive(padded, kernel, bias, strides, "valid")


@mutant("conv.conv2d", expect="top/left")
def conv2d_extra_padding_before(x, kernel, bias, strides=(1, 1), padding="valid"):
    # Rounds the other way: ceil(total / 2) before, floor after.
    x, kernel, bias = (np.asarray(a, dtype=float) for a in (x, kernel, bias))
    kh, kw, _, filters = kernel.shape
    out_h, out_w, pads_h, pads_w = _geometry(x.shape, (kh, kw), strides, padding)
    padded = _pad(x, pads_h[::-1], pads_w[::-1])
    columns = im2col(padded, (kh, kw), strides, "valid")
    return (columns @ kernel.reshape(-1, filters) + bias).reshape(x.shape[0], out_h, out_w, filters)


@mutant("conv.conv2d", expect=r"output \d+x\d+, expected \d+x\d+: with padding='same' the output size is ceil")
def conv2d_floor_for_same(x, kernel, bias, strides=(1, 1), padding="valid"):
    # 'same' computed as floor(in / stride): one row/column short for odd sizes.
    x, kernel, bias = (np.asarray(a, dtype=float) for a in (x, kernel, bias))
    kh, kw, _, filters = kernel.shape
    sh, sw = _pair(strides)
    full = conv2d_naive(x, kernel, bias, strides, padding)
    if padding != "same":
        return full
    return full[:, : x.shape[1] // sh, : x.shape[2] // sw, :]


@mutant("conv.conv2d", expect=r"kernel.reshape\(filters, -1\).T: right shape")
def conv2d_kernel_matrix_reshaped_filters_first(x, kernel, bias, strides=(1, 1), padding="valid"):
    x, kernel, bias = (np.asarray(a, dtype=float) for a in (x, kernel, bias))
    kh, kw, _, filters = kernel.shape
    out_h, out_w, _, _ = _geometry(x.shape, (kh, kw), strides, padding)
    matrix = kernel.reshape(filters, -1).T  # MISTAKE: the PyTorch habit, filters first
    return (im2col(x, (kh, kw), strides, padding) @ matrix + bias).reshape(x.shape[0], out_h, out_w, filters)


@mutant("conv.conv2d", expect=r"your code raised ValueError.*\n.*conv.py, line.*\n.*\n.*NHWC")
def conv2d_kernel_reshaped_filters_first(x, kernel, bias, strides=(1, 1), padding="valid"):
    """kernel.reshape(filters, -1) (PyTorch's layout) without the .T: a matmul shape error."""
    x, kernel, bias = (np.asarray(a, dtype=float) for a in (x, kernel, bias))
    kh, kw, _, filters = kernel.shape
    out_h, out_w, _, _ = _geometry(x.shape, (kh, kw), strides, padding)
    columns = im2col(x, (kh, kw), strides, padding)
    return (columns @ kernel.reshape(filters, -1) + bias).reshape(x.shape[0], out_h, out_w, filters)


@alternative("conv.conv2d")
def conv2d_with_einsum_over_windows(x, kernel, bias, strides=(1, 1), padding="valid"):
    x, kernel, bias = (np.asarray(a, dtype=float) for a in (x, kernel, bias))
    kh, kw, _, _ = kernel.shape
    sh, sw = _pair(strides)
    _, _, pads_h, pads_w = _geometry(x.shape, (kh, kw), (sh, sw), padding)
    windows = np.lib.stride_tricks.sliding_window_view(_pad(x, pads_h, pads_w), (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    return np.einsum("bijcuv,uvcf->bijf", windows, kernel, optimize=True) + bias


@alternative("conv.conv2d")
def conv2d_is_the_naive_loop(x, kernel, bias, strides=(1, 1), padding="valid"):
    # Slow but right: the correctness tests accept it (speed is for `pytest --bench`).
    return conv2d_naive(x, kernel, bias, strides, padding)


# --------------------------------------------------------- conv2d_at_scale


@mutant("conv.conv2d_at_scale", expect="float32")
def conv2d_cast_to_float32_for_speed(x, kernel, bias, strides=(1, 1), padding="valid"):
    x32, k32 = np.asarray(x, np.float32), np.asarray(kernel, np.float32)
    kh, kw, _, filters = k32.shape
    out_h, out_w, _, _ = _geometry(x32.shape, (kh, kw), strides, padding)
    columns = _patches(x32, (kh, kw), strides, padding).astype(np.float32).reshape(-1, kh * kw * x32.shape[3])
    out = columns @ k32.reshape(-1, filters) + np.asarray(bias, np.float32)
    return out.reshape(x32.shape[0], out_h, out_w, filters)


@alternative("conv.conv2d_at_scale")
def conv2d_at_scale_with_einsum(x, kernel, bias, strides=(1, 1), padding="valid"):
    x, kernel, bias = (np.asarray(a, dtype=float) for a in (x, kernel, bias))
    kh, kw, _, _ = kernel.shape
    sh, sw = _pair(strides)
    _, _, pads_h, pads_w = _geometry(x.shape, (kh, kw), (sh, sw), padding)
    windows = np.lib.stride_tricks.sliding_window_view(_pad(x, pads_h, pads_w), (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    return np.einsum("bijcuv,uvcf->bijf", windows, kernel, optimize=True) + bias


# --------------------------------------------------------- conv2d_backward


@mutant("conv.conv2d_backward", expect="dkernel is transposed")
def conv2d_backward_dkernel_not_transposed(dout, x, kernel, strides=(1, 1), padding="valid", _solution=conv2d_backward):
    dx, _, dbias = _solution(dout, x, kernel, strides, padding)
    filters = kernel.shape[-1]
    flat = np.asarray(dout, dtype=float).reshape(-1, filters)
    dkernel = (flat.T @ im2col(x, kernel.shape[:2], strides, padding)).reshape(kernel.shape)
    return dx, dkernel, dbias


@mutant("conv.conv2d_backward", expect=r"strides=\(2, 2\), window \(i, j\) starts at row i\*2")
def conv2d_backward_ignores_stride(dout, x, kernel, strides=(1, 1), padding="valid"):
    # Loops written for stride 1: window (i, j) is taken at (i, j) whatever the stride.
    dout, x, kernel = (np.asarray(a, dtype=float) for a in (dout, x, kernel))
    kh, kw, _, _ = kernel.shape
    _, out_h, out_w, _ = dout.shape
    _, _, pads_h, pads_w = _geometry(x.shape, (kh, kw), strides, padding)
    padded = _pad(x, pads_h, pads_w)
    dpadded, dkernel = np.zeros_like(padded), np.zeros_like(kernel)
    for i in range(out_h):
        for j in range(out_w):
            window = padded[:, i : i + kh, j : j + kw, :]
            dkernel += np.tensordot(window, dout[:, i, j, :], axes=([0], [0]))
            dpadded[:, i : i + kh, j : j + kw, :] += np.tensordot(dout[:, i, j, :], kernel, axes=([1], [3]))
    dx = dpadded[:, pads_h[0] : pads_h[0] + x.shape[1], pads_w[0] : pads_w[0] + x.shape[2], :]
    return dx, dkernel, dout.sum(axis=(0, 1, 2))


@mutant("conv.conv2d_backward", expect="assigned, not accumulated")
def conv2d_backward_assigns_dx(dout, x, kernel, strides=(1, 1), padding="valid", _solution=conv2d_backward):
    dout, x, kernel = (np.asarray(a, dtype=float) for a in (dout, x, kernel))
    kh, kw, _, _ = kernel.shape
    sh, sw = _pair(strides)
    _, out_h, out_w, _ = dout.shape
    _, _, pads_h, pads_w = _geometry(x.shape, (kh, kw), (sh, sw), padding)
    _, dkernel, dbias = _solution(dout, x, kernel, strides, padding)
    dpadded = np.zeros_like(_pad(x, pads_h, pads_w))
    for i in range(out_h):
        for j in range(out_w):
            dpadded[:, i * sh : i * sh + kh, j * sw : j * sw + kw, :] = np.tensordot(
                dout[:, i, j, :], kernel, axes=([1], [3])
            )
    return dpadded[:, pads_h[0] : pads_h[0] + x.shape[1], pads_w[0] : pads_w[0] + x.shape[2], :], dkernel, dbias


@mutant("conv.conv2d_backward", expect="cut from the top/left of the padded gradient")
def conv2d_backward_cropping_the_front(dout, x, kernel, strides=(1, 1), padding="valid", _solution=conv2d_backward):
    dx, dkernel, dbias = _solution(dout, x, kernel, strides, padding)
    if padding != "same":
        return dx, dkernel, dbias
    x, kernel, dout = (np.asarray(a, dtype=float) for a in (x, kernel, dout))
    kh, kw, _, filters = kernel.shape
    out_h, out_w, pads_h, pads_w = _geometry(x.shape, (kh, kw), strides, padding)
    (sh, sw) = _pair(strides)
    dpatches = (dout.reshape(-1, filters) @ kernel.reshape(-1, filters).T).reshape(dout.shape[:3] + (kh, kw, -1))
    dpadded = np.zeros((x.shape[0], x.shape[1] + sum(pads_h), x.shape[2] + sum(pads_w), x.shape[3]))
    for di in range(kh):
        for dj in range(kw):
            dpadded[:, di : di + sh * (out_h - 1) + 1 : sh, dj : dj + sw * (out_w - 1) + 1 : sw, :] += dpatches[
                :, :, :, di, dj, :
            ]
    return dpadded[:, : x.shape[1], : x.shape[2], :], dkernel, dbias  # MISTAKE: the padding cut off the wrong side


@mutant("conv.conv2d_backward", expect="dbias is averaged")
def conv2d_backward_mean_bias(dout, x, kernel, strides=(1, 1), padding="valid", _solution=conv2d_backward):
    dx, dkernel, _ = _solution(dout, x, kernel, strides, padding)
    return dx, dkernel, np.asarray(dout, dtype=float).mean(axis=(0, 1, 2))


@alternative("conv.conv2d_backward")
def conv2d_backward_with_loops(dout, x, kernel, strides=(1, 1), padding="valid"):
    dout, x, kernel = (np.asarray(a, dtype=float) for a in (dout, x, kernel))
    kh, kw, _, _ = kernel.shape
    sh, sw = _pair(strides)
    _, out_h, out_w, _ = dout.shape
    _, _, pads_h, pads_w = _geometry(x.shape, (kh, kw), (sh, sw), padding)
    padded = _pad(x, pads_h, pads_w)
    dpadded, dkernel = np.zeros_like(padded), np.zeros_like(kernel)
    for i in range(out_h):
        for j in range(out_w):
            rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
            dkernel += np.tensordot(padded[:, rows, cols, :], dout[:, i, j, :], axes=([0], [0]))
            dpadded[:, rows, cols, :] += np.tensordot(dout[:, i, j, :], kernel, axes=([1], [3]))
    dx = dpadded[:, pads_h[0] : pads_h[0] + x.shape[1], pads_w[0] : pads_w[0] + x.shape[2], :]
    return dx, dkernel, dout.sum(axis=(0, 1, 2))


@alternative("conv.conv2d_backward")
def conv2d_backward_as_convolutions(dout, x, kernel, strides=(1, 1), padding="valid"):
    # dx is a "full" convolution of the stride-dilated dout with the flipped, transposed kernel;
    # dkernel correlates the input with dout. Written with einsum over sliding windows.
    dout, x, kernel = (np.asarray(a, dtype=float) for a in (dout, x, kernel))
    kh, kw, _, _ = kernel.shape
    sh, sw = _pair(strides)
    batch, out_h, out_w, filters = dout.shape
    _, _, pads_h, pads_w = _geometry(x.shape, (kh, kw), (sh, sw), padding)
    padded = _pad(x, pads_h, pads_w)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))[:, ::sh, ::sw][:, :out_h, :out_w]
    dkernel = np.einsum("bijcuv,bijf->uvcf", windows, dout, optimize=True)
    dilated = np.zeros((batch, padded.shape[1] + kh - 1, padded.shape[2] + kw - 1, filters))
    dilated[:, kh - 1 : kh - 1 + sh * (out_h - 1) + 1 : sh, kw - 1 : kw - 1 + sw * (out_w - 1) + 1 : sw, :] = dout
    full = np.lib.stride_tricks.sliding_window_view(dilated, (kh, kw), axis=(1, 2))
    dpadded = np.einsum("bijfuv,uvcf->bijc", full, kernel[::-1, ::-1], optimize=True)[
        :, : padded.shape[1], : padded.shape[2]
    ]
    dx = dpadded[:, pads_h[0] : pads_h[0] + x.shape[1], pads_w[0] : pads_w[0] + x.shape[2], :]
    return dx, dkernel, dout.sum(axis=(0, 1, 2))


# -------------------------------------------------------------- max_pool2d


@mutant("conv.max_pool2d", expect="strides=None means strides = pool_size")
def max_pool2d_stride_one_by_default(x, pool_size=(2, 2), strides=None, padding="valid", _solution=max_pool2d):
    return _solution(x, pool_size, (1, 1) if strides is None else strides, padding)


@mutant("conv.max_pool2d", expect="'same' does not mean the same size")
def max_pool2d_same_keeps_the_size(x, pool_size=(2, 2), strides=None, padding="valid", _solution=max_pool2d):
    if padding != "same":
        return _solution(x, pool_size, strides, padding)
    x = np.asarray(x, dtype=float)
    pool = _pair(pool_size)
    sh, sw = pool if strides is None else _pair(strides)
    h, w = x.shape[1:3]
    # MISTAKE: 'same' read as 'the same size': h x w windows at stride (sh, sw), padded after with -inf.
    padded = np.pad(
        x, ((0, 0), (0, (h - 1) * sh + pool[0] - h), (0, (w - 1) * sw + pool[1] - w), (0, 0)), constant_values=-np.inf
    )
    return _solution(padded, pool, (sh, sw), "valid")


@mutant("conv.max_pool2d", expect="filled with zeros")
def max_pool2d_zero_padding(x, pool_size=(2, 2), strides=None, padding="valid"):
    x = np.asarray(x, dtype=float)
    pool = _pair(pool_size)
    strides = pool if strides is None else _pair(strides)
    out_h, out_w, pads_h, pads_w = _geometry(x.shape, pool, strides, padding)
    return _window_maxima(_pad(x, pads_h, pads_w, 0.0), _window_cells(pool, strides, out_h, out_w))


@alternative("conv.max_pool2d")
def max_pool2d_with_loops(x, pool_size=(2, 2), strides=None, padding="valid"):
    x = np.asarray(x, dtype=float)
    (ph, pw) = _pair(pool_size)
    (sh, sw) = (ph, pw) if strides is None else _pair(strides)
    out_h, out_w, pads_h, pads_w = _geometry(x.shape, (ph, pw), (sh, sw), padding)
    padded = _pad(x, pads_h, pads_w, -np.inf)
    out = np.empty((x.shape[0], out_h, out_w, x.shape[3]))
    for i in range(out_h):
        for j in range(out_w):
            out[:, i, j, :] = padded[:, i * sh : i * sh + ph, j * sw : j * sw + pw, :].max(axis=(1, 2))
    return out


# ----------------------------------------------------- max_pool2d_backward


@mutant("conv.max_pool2d_backward", expect=r"instead of assigning \(=\)")
def max_pool2d_backward_assigns(dout, x, pool_size=(2, 2), strides=None, padding="valid"):
    dout, x = np.asarray(dout, dtype=float), np.asarray(x, dtype=float)
    (ph, pw) = _pair(pool_size)
    (sh, sw) = (ph, pw) if strides is None else _pair(strides)
    _, out_h, out_w, _ = dout.shape
    _, _, pads_h, pads_w = _geometry(x.shape, (ph, pw), (sh, sw), padding)
    padded = _pad(x, pads_h, pads_w, -np.inf)
    dpadded = np.zeros_like(padded)
    for i in range(out_h):
        for j in range(out_w):
            window = padded[:, i * sh : i * sh + ph, j * sw : j * sw + pw, :]
            mask = window == window.max(axis=(1, 2), keepdims=True)
            region = dpadded[:, i * sh : i * sh + ph, j * sw : j * sw + pw, :]
            region[mask] = (mask * dout[:, i : i + 1, j : j + 1, :])[mask]  # = instead of +=
    return dpadded[:, pads_h[0] : pads_h[0] + x.shape[1], pads_w[0] : pads_w[0] + x.shape[2], :]


@mutant("conv.max_pool2d_backward", expect="every tied cell")
def max_pool2d_backward_to_every_tie(dout, x, pool_size=(2, 2), strides=None, padding="valid"):
    """mask = (window == window.max()): each tied maximum gets the whole gradient."""
    dout, x = np.asarray(dout, dtype=float), np.asarray(x, dtype=float)
    pool = _pair(pool_size)
    strides = pool if strides is None else _pair(strides)
    out_h, out_w, pads_h, pads_w = _geometry(x.shape, pool, strides, padding)
    padded = _pad(x, pads_h, pads_w, -np.inf)
    cells = _window_cells(pool, strides, out_h, out_w)
    best = _window_maxima(padded, cells)
    dpadded = np.zeros(padded.shape)
    for cell in cells:
        dpadded[cell] += dout * (padded[cell] == best)
    return dpadded[:, pads_h[0] : pads_h[0] + x.shape[1], pads_w[0] : pads_w[0] + x.shape[2], :]


@mutant("conv.max_pool2d_backward", expect="more than dout's total")
def max_pool2d_backward_spreads_over_window(dout, x, pool_size=(2, 2), strides=None, padding="valid"):
    # Every cell of the window gets the gradient, as if pooling were a sum.
    dout, x = np.asarray(dout, dtype=float), np.asarray(x, dtype=float)
    (ph, pw) = _pair(pool_size)
    (sh, sw) = (ph, pw) if strides is None else _pair(strides)
    _, out_h, out_w, _ = dout.shape
    _, _, pads_h, pads_w = _geometry(x.shape, (ph, pw), (sh, sw), padding)
    dpadded = np.zeros_like(_pad(x, pads_h, pads_w))
    for i in range(out_h):
        for j in range(out_w):
            dpadded[:, i * sh : i * sh + ph, j * sw : j * sw + pw, :] += dout[:, i : i + 1, j : j + 1, :]
    return dpadded[:, pads_h[0] : pads_h[0] + x.shape[1], pads_w[0] : pads_w[0] + x.shape[2], :]


@alternative("conv.max_pool2d_backward")
def max_pool2d_backward_with_loops(dout, x, pool_size=(2, 2), strides=None, padding="valid"):
    dout, x = np.asarray(dout, dtype=float), np.asarray(x, dtype=float)
    (ph, pw) = _pair(pool_size)
    (sh, sw) = (ph, pw) if strides is None else _pair(strides)
    batch, out_h, out_w, channels = dout.shape
    _, _, pads_h, pads_w = _geometry(x.shape, (ph, pw), (sh, sw), padding)
    padded = _pad(x, pads_h, pads_w, -np.inf)
    dpadded = np.zeros_like(padded)
    for b in range(batch):
        for i in range(out_h):
            for j in range(out_w):
                for c in range(channels):
                    window = padded[b, i * sh : i * sh + ph, j * sw : j * sw + pw, c]
                    di, dj = np.unravel_index(np.argmax(window), window.shape)
                    dpadded[b, i * sh + di, j * sw + dj, c] += dout[b, i, j, c]
    return dpadded[:, pads_h[0] : pads_h[0] + x.shape[1], pads_w[0] : pads_w[0] + x.shape[2], :]


# ------------------------------------------------------------------ flatten


@mutant("conv.flatten", expect="channels-first order")
def flatten_channels_first(x):
    x = np.asarray(x, dtype=float)
    return x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)


@mutant("conv.flatten", expect="keep the batch axis")
def flatten_everything(x):
    return np.asarray(x, dtype=float).ravel()


@alternative("conv.flatten")
def flatten_by_concatenating_rows(x):
    x = np.asarray(x, dtype=float)
    return np.stack([np.concatenate([pixel for row in image for pixel in row]) for image in x])


# ------------------------------------------------------------------- layers


@mutant("conv.Conv2D", expect="multiply both fans by kh\\*kw|Glorot")
class Conv2DWithDenseFans(Conv2D):
    def build(self, input_shape, rng):
        # Dense fans (in_ch, filters), forgetting the receptive field: a limit 3x too large for 3x3.
        limit = np.sqrt(6.0 / (input_shape[-1] + self.filters))
        self.weights = [
            rng.uniform(-limit, limit, self.kernel_size + (input_shape[-1], self.filters)),
            np.zeros(self.filters),
        ]
        self.built = True


@mutant("conv.Conv2D", expect="skips the activation's derivative")
class Conv2DWithoutActivationBackward(Conv2D):
    def backward(self, dout):
        dx, dkernel, dbias = conv2d_backward(dout, self._x, self.weights[0], self.strides, self.padding)
        self.grads = [dkernel, dbias]
        return dx


@alternative("conv.Conv2D")
class Conv2DWithEinsum(Conv2D):
    def forward(self, x, training=False):
        kernel, bias = self.weights
        kh, kw = self.kernel_size
        sh, sw = self.strides
        _, _, pads_h, pads_w = _geometry(x.shape, (kh, kw), (sh, sw), self.padding)
        windows = np.lib.stride_tricks.sliding_window_view(_pad(x, pads_h, pads_w), (kh, kw), axis=(1, 2))[
            :, ::sh, ::sw
        ]
        self._x = x
        self._z = np.einsum("bijcuv,uvcf->bijf", windows, kernel, optimize=True) + bias
        return self._forward_activation(self._z)


@mutant("conv.MaxPooling2D", expect="strides default to the pool size")
class MaxPooling2DStrideOne(MaxPooling2D):
    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", name=None, input_shape=None):
        super().__init__(pool_size, (1, 1) if strides is None else strides, padding, name, input_shape)


@alternative("conv.MaxPooling2D")
class MaxPooling2DRememberingTheWinners(MaxPooling2D):
    def forward(self, x, training=False):
        self._x = x
        out = max_pool2d(x, self.pool_size, self.strides, self.padding)
        self._out = out
        return out


@mutant("conv.Flatten", expect="reshape the gradient back")
class FlattenWithoutReshapeInBackward(Flatten):
    def backward(self, dout):
        return dout


@alternative("conv.Flatten")
class FlattenRememberingTheShapeOnly(Flatten):
    def forward(self, x, training=False):
        self._shape = x.shape
        return np.reshape(x, (x.shape[0], -1))


# ----------------------------------------------------------------- capstone


@mutant("conv.seed_cnn", expect="parameters")
class Conv2DWithoutBias(Conv2D):
    def build(self, input_shape, rng):
        self.weights = [glorot_uniform(self.kernel_size + (input_shape[-1], self.filters), rng)]
        self.built = True

    def forward(self, x, training=False):
        self._x = x
        self._z = conv2d(x, self.weights[0], np.zeros(self.filters), self.strides, self.padding)
        return self._forward_activation(self._z)

    def backward(self, dout):
        dz = self._backward_activation(dout, self._z)
        dx, dkernel, _ = conv2d_backward(dz, self._x, self.weights[0], self.strides, self.padding)
        self.grads = [dkernel]
        return dx


@mutant("conv.seed_cnn", expect=r"layer 1, Conv2D.*backward pass")
class Conv2DSkippingReluBackward(Conv2D):
    def backward(self, dout):
        dx, dkernel, dbias = conv2d_backward(dout, self._x, self.weights[0], self.strides, self.padding)
        self.grads = [dkernel, dbias]
        return dx


@alternative("conv.seed_cnn")
class Conv2DOnSlidingWindows(Conv2D):
    def forward(self, x, training=False):
        kernel, bias = self.weights
        kh, kw = self.kernel_size
        sh, sw = self.strides
        _, _, pads_h, pads_w = _geometry(x.shape, (kh, kw), (sh, sw), self.padding)
        windows = np.lib.stride_tricks.sliding_window_view(_pad(x, pads_h, pads_w), (kh, kw), axis=(1, 2))[
            :, ::sh, ::sw
        ]
        self._x = x
        self._z = np.einsum("bijcuv,uvcf->bijf", windows, kernel, optimize=True) + bias
        return self._forward_activation(self._z)


# ---- blind sweep (issue 24, round 3): written from the answer key, before reading the kata's tests


@mutant("conv.max_pool2d_backward", expect=r"the gradient went to every tied cell")
def max_pool2d_backward_to_every_tied_maximum(dout, x, pool_size=(2, 2), strides=None, padding="valid"):
    # MISTAKE: the gradient goes to every input equal to the window's maximum (TF: the first one only).
    dout, x = np.asarray(dout, dtype=float), np.asarray(x, dtype=float)
    (ph, pw) = pool = _pair(pool_size)
    sh, sw = strides = pool if strides is None else _pair(strides)
    out_h, out_w, pads_h, pads_w = _geometry(x.shape, pool, strides, padding)
    padded = _pad(x, pads_h, pads_w, -np.inf)
    windows = np.stack(
        [
            padded[:, di : di + sh * (out_h - 1) + 1 : sh, dj : dj + sw * (out_w - 1) + 1 : sw, :]
            for di in range(ph)
            for dj in range(pw)
        ]
    )
    is_max = windows == windows.max(axis=0)
    dpadded = np.zeros(padded.shape)
    for number in range(ph * pw):
        di, dj = divmod(number, pw)
        dpadded[:, di : di + sh * (out_h - 1) + 1 : sh, dj : dj + sw * (out_w - 1) + 1 : sw, :] += dout * is_max[number]
    return dpadded[:, pads_h[0] : pads_h[0] + x.shape[1], pads_w[0] : pads_w[0] + x.shape[2], :]


@mutant("conv.conv2d_backward", expect=r"padding='same'.*cuts that same padding off dx")
def conv2d_backward_cuts_dx_from_the_corner(
    dout, x, kernel, strides=(1, 1), padding="valid", _solution=conv2d_backward
):
    # MISTAKE: with 'same', dx is cut from the top-left corner of the padded gradient, ignoring the
    # padding before (correct only where total // 2 == 0: total padding of 0 or 1).
    x, kernel = np.asarray(x, dtype=float), np.asarray(kernel, dtype=float)
    kh, kw = kernel.shape[:2]
    out_h, out_w, pads_h, pads_w = _geometry(x.shape, (kh, kw), strides, padding)
    dx, dkernel, dbias = _solution(dout, x, kernel, strides, padding)
    padded = np.zeros((x.shape[0], x.shape[1] + sum(pads_h), x.shape[2] + sum(pads_w), x.shape[3]))
    padded[:, pads_h[0] : pads_h[0] + x.shape[1], pads_w[0] : pads_w[0] + x.shape[2]] = dx
    return padded[:, : x.shape[1], : x.shape[2]], dkernel, dbias


@mutant("conv.MaxPooling2D", expect=r"strides default to the pool size")
class MaxPooling2DStrideOneByDefault(MaxPooling2D):
    # MISTAKE: strides=None taken as 1 (Keras: strides default to the pool size).
    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", name=None, input_shape=None):
        super().__init__(pool_size, (1, 1) if strides is None else strides, padding, name=name, input_shape=input_shape)


@mutant("conv.conv2d", expect=r"float32's precision")
def conv2d_in_float32(x, kernel, bias, strides=(1, 1), padding="valid"):
    # MISTAKE: float32 matrix product for speed, cast back to float64.
    x, kernel, bias = (np.asarray(a, dtype=float) for a in (x, kernel, bias))
    kh, kw, _, filters = kernel.shape
    out_h, out_w, _, _ = _geometry(x.shape, (kh, kw), strides, padding)
    columns = im2col(x, (kh, kw), strides, padding).astype(np.float32)
    out = columns @ kernel.reshape(-1, filters).astype(np.float32) + bias.astype(np.float32)
    return out.astype(float).reshape(x.shape[0], out_h, out_w, filters)


@alternative("conv.conv2d_backward")
def conv2d_backward_with_loops_over_the_kernel(dout, x, kernel, strides=(1, 1), padding="valid"):
    dout, x, kernel = (np.asarray(a, dtype=float) for a in (dout, x, kernel))
    kh, kw, in_ch, filters = kernel.shape
    sh, sw = _pair(strides)
    out_h, out_w, pads_h, pads_w = _geometry(x.shape, (kh, kw), (sh, sw), padding)
    padded = _pad(x, pads_h, pads_w)
    dpadded = np.zeros_like(padded)
    dkernel = np.zeros_like(kernel)
    for i in range(kh):
        for j in range(kw):
            window = padded[:, i : i + sh * (out_h - 1) + 1 : sh, j : j + sw * (out_w - 1) + 1 : sw, :]
            dkernel[i, j] = np.einsum("bhwc,bhwf->cf", window, dout)
            dpadded[:, i : i + sh * (out_h - 1) + 1 : sh, j : j + sw * (out_w - 1) + 1 : sw, :] += np.einsum(
                "bhwf,cf->bhwc", dout, kernel[i, j]
            )
    dx = dpadded[:, pads_h[0] : pads_h[0] + x.shape[1], pads_w[0] : pads_w[0] + x.shape[2]]
    return dx, dkernel, dout.sum(axis=(0, 1, 2))


# second blind batch: the layers


@mutant("conv.Conv2D", expect=r"ceil")
class Conv2DSameShapeFloored(Conv2D):
    # MISTAKE: compute_output_shape with 'same' as in // stride (right whenever the stride divides the size).
    def compute_output_shape(self, input_shape):
        (h, w), (sh, sw) = input_shape[:2], self.strides
        if self.padding == "same":
            return h // sh, w // sw, self.filters
        return super().compute_output_shape(input_shape)
