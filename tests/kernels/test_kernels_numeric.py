"""Every kernel against TensorFlow (float64, CPU), on both backends, at awkward sizes.

The NumPy fallback runs everywhere; the CuPy cases run where the CUDA
runtime reports a device and are skipped with ``kernels.why_no_gpu()``
elsewhere. Each call:

* runs inside ``kernels.nan_filled_outputs()``, so an output element the
  kernel forgets to write stays NaN and fails ``isfinite`` (all inputs are finite);
* must leave its inputs unchanged, keep the float dtype, and record the
  backend that ran (``kernels.last_backend()``);
* must match TF to ``1e-11`` (float64) or ``2e-5`` (float32) of the output's
  scale. float32 inputs are compared with TF run in float64 on the same
  (float32-rounded) values, so only the kernel's own rounding counts.

Sizes: 1, 3, primes and other non-powers of two, rows longer than a softmax
block (256), "same" windows bigger than the image, overlapping pool windows.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernels
from reference import kernels as reference

# left out of the quick tier: every kernel on the emulator and every source: the full suite's part
pytestmark = pytest.mark.slow

BACKENDS = [
    pytest.param("numpy", id="numpy"),
    pytest.param("cupy", id="cupy", marks=pytest.mark.skipif(not kernels.gpu_available(), reason=kernels.why_no_gpu())),
]
DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
TOLERANCE = {np.dtype(np.float64): 1e-11, np.dtype(np.float32): 2e-5}


# ------------------------------------------------------------------ harness


def _to_numpy(array):
    return array.get() if hasattr(array, "get") and not isinstance(array, np.ndarray) else np.asarray(array)


def run_kernel(backend, function, *arrays, **options):
    """Call ``function`` on ``backend`` with NaN-filled outputs; return its outputs as NumPy.

    Checks on the way: inputs unchanged, backend recorded, every output element written.
    Only NumPy arrays move to the GPU; sizes and strides stay Python tuples.
    """
    if backend == "cupy":
        import cupy

        arrays = tuple(cupy.asarray(a) if isinstance(a, np.ndarray) else a for a in arrays)
    before = [_to_numpy(a).copy() for a in arrays]
    with kernels.nan_filled_outputs():
        result = function(*arrays, **options)
    if backend == "cupy":
        cupy.cuda.Device().synchronize()  # surface asynchronous launch errors here
    assert kernels.last_backend() == backend, (
        f"{function.__name__} ran on {kernels.last_backend()!r}, not on {backend!r}"
    )
    for index, (old, new) in enumerate(zip(before, arrays)):
        assert np.array_equal(old, _to_numpy(new)), f"{function.__name__} changed its input #{index} in place"
    outputs = tuple(_to_numpy(r) for r in (result if isinstance(result, tuple) else (result,)))
    for out in outputs:
        assert np.isfinite(out).all(), (
            f"{function.__name__}: {np.count_nonzero(~np.isfinite(out))} of {out.size} output elements "
            f"were never written (still NaN) or are not finite"
        )
    return outputs


def assert_matches(actual, expected, dtype, what):
    dtype = np.dtype(dtype)
    assert actual.dtype == dtype, f"{what}: result dtype {actual.dtype}, expected {dtype} (the input's)"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, TF gives {expected.shape}"
    tolerance = TOLERANCE[dtype]
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance * scale, err_msg=what)


def inputs(dtype, *shapes, scale=1.0, key=()):
    """Seeded normal inputs, rounded to ``dtype``."""
    rng = np.random.default_rng(sum((i + 1) * ord(ch) for i, ch in enumerate(repr((shapes, key)))))
    return [(rng.normal(size=shape) * scale).astype(dtype) for shape in shapes]


# ------------------------------------------------------------ element-wise

ELEMENTWISE_SHAPES = [(1,), (3,), (2, 37), (129, 7, 3), (300_007,)]
EXTREMES = np.array([-1000.0, -40.0, -20.0, -1.0, -1e-8, 0.0, 1e-8, 1.0, 20.0, 40.0, 1000.0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES, ids=str)
def test_elementwise_matches_tf(backend, dtype, name, shape):
    (x,) = inputs(dtype, shape, scale=4.0, key=name)
    (y,) = run_kernel(backend, getattr(kernels, name), x)
    assert_matches(y, getattr(reference, name)(x), dtype, f"{name}{shape}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_elementwise_extremes_do_not_overflow(backend, dtype, name):
    x = EXTREMES.astype(dtype)
    with np.errstate(over="raise"):  # the stable sigmoid never calls exp on a large positive
        (y,) = run_kernel(backend, getattr(kernels, name), x)
    assert_matches(y, getattr(reference, name)(x), dtype, f"{name}{EXTREMES.tolist()}")


# ------------------------------------------------------------------ softmax

SOFTMAX_CASES = [(1, 1), (1, 3), (3, 1), (5, 37), (2, 3, 257), (1, 5003), (1000, 10), (7,)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SOFTMAX_CASES, ids=str)
def test_softmax_matches_tf(backend, dtype, shape):
    (x,) = inputs(dtype, shape, scale=5.0)
    (y,) = run_kernel(backend, kernels.softmax, x)
    assert_matches(y, reference.softmax(x), dtype, f"softmax{shape}")
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=TOLERANCE[np.dtype(dtype)] * 10)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_of_huge_logits_is_max_shifted(backend, dtype):
    x = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -2000.0], [0.0, 0.0, 0.0]], dtype)
    with np.errstate(over="raise"):
        (y,) = run_kernel(backend, kernels.softmax, x)
    assert_matches(y, reference.softmax(x), dtype, "softmax of logits near +-1000")


# -------------------------------------------------------------------- dense

DENSE_CASES = [((1, 1), 1), ((3, 5), 7), ((37, 129), 65), ((2, 3, 4), 5), ((256, 300), 130)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("x_shape, units", DENSE_CASES, ids=str)
def test_dense_forward_matches_keras_dense(backend, dtype, activation, x_shape, units):
    x, kernel, bias = inputs(dtype, x_shape, (x_shape[-1], units), (units,), key=activation)
    (y,) = run_kernel(backend, kernels.dense_forward, x, kernel, bias, activation=activation)
    assert_matches(
        y,
        reference.dense_forward(x, kernel, bias, activation),
        dtype,
        f"dense_forward x{x_shape} units={units} activation={activation}",
    )


# ------------------------------------------------------------ im2col, conv2d

# (x shape NHWC, (kh, kw), strides, padding)
CONV_CASES = [
    ((1, 1, 1, 1), (1, 1), (1, 1), "valid"),
    ((1, 5, 5, 1), (3, 3), (1, 1), "valid"),
    ((2, 7, 6, 3), (3, 2), (2, 1), "same"),  # odd padding: the extra row goes after
    ((3, 9, 10, 4), (3, 3), (2, 2), "same"),
    ((2, 8, 8, 3), (2, 2), (3, 3), "valid"),  # stride > kernel: pixels skipped
    ((1, 4, 4, 2), (5, 5), (1, 1), "same"),  # window bigger than the image
    ((4, 32, 33, 8), (3, 3), (1, 1), "same"),
]
CONV_IDS = [f"{s}-k{k}-s{st}-{p}" for s, k, st, p in CONV_CASES]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, size, strides, padding", CONV_CASES, ids=CONV_IDS)
def test_im2col_matches_tf_extract_patches(backend, dtype, x_shape, size, strides, padding):
    (x,) = inputs(dtype, x_shape)
    (cols,) = run_kernel(backend, kernels.im2col, x, size, strides=strides, padding=padding)
    assert_matches(cols, reference.im2col(x, size, strides, padding), dtype, f"im2col {x_shape} {size}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, size, strides, padding", CONV_CASES, ids=CONV_IDS)
def test_conv2d_matches_keras_conv2d(backend, dtype, x_shape, size, strides, padding):
    out_channels = 5
    x, kernel, bias = inputs(dtype, x_shape, size + (x_shape[-1], out_channels), (out_channels,))
    (y,) = run_kernel(backend, kernels.conv2d, x, kernel, bias, strides=strides, padding=padding)
    assert_matches(y, reference.conv2d(x, kernel, bias, strides, padding), dtype, f"conv2d {x_shape} {size}")


# --------------------------------------------------------------- max pooling

# (x shape NHWC, pool, strides (None: the pool size), padding)
POOL_CASES = [
    ((1, 1, 1, 1), (1, 1), None, "valid"),
    ((1, 4, 4, 1), (2, 2), None, "valid"),
    ((2, 7, 5, 3), (3, 3), (2, 2), "same"),
    ((3, 9, 10, 4), (2, 3), (1, 2), "valid"),  # overlapping windows along the height
    ((2, 5, 5, 2), (3, 3), (1, 1), "same"),  # every input in up to 9 windows
    ((1, 3, 7, 1), (2, 2), None, "same"),  # odd sizes: padded last row/column
    ((1, 6, 5, 2), (3, 2), (1, 1), "same"),  # padding 1 on top, 0 on the left
    ((8, 33, 31, 16), (2, 2), None, "valid"),
]
POOL_IDS = [f"{s}-p{p}-s{st}-{pad}" for s, p, st, pad in POOL_CASES]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, pool, strides, padding", POOL_CASES, ids=POOL_IDS)
def test_max_pool2d_matches_keras(backend, dtype, x_shape, pool, strides, padding):
    (x,) = inputs(dtype, x_shape)
    (y,) = run_kernel(backend, kernels.max_pool2d, x, pool, strides=strides, padding=padding)
    assert_matches(y, reference.max_pool2d(x, pool, strides, padding), dtype, f"max_pool2d {x_shape}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("x_shape, pool, strides, padding", POOL_CASES, ids=POOL_IDS)
def test_max_pool2d_backward_matches_tf_gradient(backend, dtype, ties, x_shape, pool, strides, padding):
    (x,) = inputs(dtype, x_shape)
    if ties:  # small integers: many windows hold their maximum twice; TF picks the first
        x = np.round(x).astype(dtype)
    out_shape = reference.max_pool2d(x, pool, strides, padding).shape
    (dout,) = inputs(dtype, out_shape, key="dout")
    (dx,) = run_kernel(backend, kernels.max_pool2d_backward, dout, x, pool, strides=strides, padding=padding)
    assert_matches(
        dx,
        reference.max_pool2d_backward(dout, x, pool, strides, padding),
        dtype,
        f"max_pool2d_backward {x_shape} ties={ties}",
    )


# --------------------------------------------------------------------- LSTM

LSTM_CASES = [(1, 1, 1), (3, 5, 7), (37, 19, 65), (128, 64, 100)]  # (batch, input_dim, units)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch, input_dim, units", LSTM_CASES, ids=str)
def test_lstm_cell_matches_keras_lstm_cell(backend, dtype, batch, input_dim, units):
    x_t, h, c, kernel, recurrent_kernel, bias = inputs(
        dtype,
        (batch, input_dim),
        (batch, units),
        (batch, units),
        (input_dim, 4 * units),
        (units, 4 * units),
        (4 * units,),
        scale=0.5,
    )
    h_new, c_new = run_kernel(backend, kernels.lstm_cell, x_t, h, c, kernel, recurrent_kernel, bias)
    h_expected, c_expected = reference.lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias)
    assert_matches(h_new, h_expected, dtype, f"lstm_cell h, batch={batch} units={units}")
    assert_matches(c_new, c_expected, dtype, f"lstm_cell c, batch={batch} units={units}")
