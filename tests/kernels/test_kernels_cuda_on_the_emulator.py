"""The CUDA code of ``kernels``, run on the GPU emulator (``dojo/gpu/``), against TensorFlow.

Without a GPU the CuPy path never runs, so its index arithmetic (im2col's
column order, "same" padding, overlapping pool windows, tie-breaking, the
LSTM gate layout, the softmax block reduction) and the Python wrappers'
launches (argument order, scalar types, geometry) would go unchecked until
someone has a GPU. Here the very source text CuPy hands NVRTC runs on the
emulator the learners' kernels run on (``dojo.gpu.cupy_emulator``: every
CUDA thread a coroutine, real barriers and shared memory, bounds, races and
divergent barriers checked) and is checked two ways:

* each kernel launched directly (``RawModule`` / ``ElementwiseKernel``, as
  ``kernels._sources`` builds them), with short grids so the grid-stride loops wrap;
* the public ``kernels.*`` functions called with the emulator as ``cupy``, so
  they take their GPU branch and launch these kernels.

What this does not check: NVRTC and CuPy themselves (``nvcc -ptx`` covers
compiling) or speed (the benchmarks model it).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import kernels
from dojo.gpu import cupy_emulator as emulator
from dojo.gpu import runtime, traffic
from kernels import _sources
from kernels._geometry import window
from reference import kernels as reference

try:
    runtime.compiler()
    CXX = True
except runtime.NoCompiler:
    CXX = False
pytestmark = pytest.mark.skipif(not CXX, reason="no C++ compiler (g++ or clang++) on PATH: the emulator needs one")

GRID, BLOCK = 3, 32  # small on purpose: most threads walk the grid-stride loop several times
DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
CTYPE = {np.float64: "double", np.float32: "float"}


class OnEmulator:
    """Launch a kernel of ``kernels/cuda`` on the emulator, with NumPy arrays in and out (outputs in place)."""

    @staticmethod
    def launch(kernel: str, grid: int, block: int, *args) -> None:
        """``kernel`` is ``<template>_<float|double>``, as NVRTC's name expression ``<template><T>``."""
        template, _, ctype = kernel.rpartition("_")
        module = next(name for name, names in _sources.RAW_MODULES.items() if template in names)
        function = emulator.RawModule(
            code=_sources.module_source(module), name_expressions=_sources.name_expressions(module)
        ).get_function(f"{template}<{ctype}>")
        device = [emulator.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        function((grid,), (block,), tuple(device))
        for array, dev in zip(args, device):
            if isinstance(array, np.ndarray):
                array[...] = emulator.asnumpy(dev)


@pytest.fixture(scope="module")
def on_emulator():
    return OnEmulator()


def _check(actual, expected, dtype):
    tolerance = 1e-12 if np.dtype(dtype) == np.float64 else 2e-5
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    assert np.isfinite(actual).all(), "some output elements were never written (still NaN)"
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance * scale)


def _inputs(dtype, *shapes, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=s) * scale).astype(dtype) for s in shapes]


def _geometry_args(x, size, strides, padding):
    geo = window(x.shape[1], x.shape[2], size, strides, padding)
    values = (*x.shape, *size, *strides, geo.pad_top, geo.pad_left, geo.out_h, geo.out_w)
    return geo, tuple(np.int64(v) for v in values)


# ------------------------------------------------------ kernels launched directly


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 1), (5, 37), (4, 300), (2, 513)], ids=str)
def test_softmax_block_reduction(on_emulator, dtype, shape):
    (x,) = _inputs(dtype, shape, scale=5.0)
    y = np.full(shape, np.nan, dtype)
    on_emulator.launch(f"kernels_softmax_rows_{CTYPE[dtype]}", min(shape[0], 2), 256, x, y, *map(np.int64, shape))
    _check(y, reference.softmax(x), dtype)


CONV_CASES = [
    ((1, 1, 1, 1), (1, 1), (1, 1), "valid"),
    ((2, 7, 6, 3), (3, 2), (2, 1), "same"),
    ((1, 4, 4, 2), (5, 5), (1, 1), "same"),
    ((2, 8, 8, 3), (2, 2), (3, 3), "valid"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, size, strides, padding", CONV_CASES, ids=str)
def test_im2col_kernel(on_emulator, dtype, x_shape, size, strides, padding):
    (x,) = _inputs(dtype, x_shape)
    geo, args = _geometry_args(x, size, strides, padding)
    cols = np.full((x_shape[0] * geo.out_h * geo.out_w, size[0] * size[1] * x_shape[3]), np.nan, dtype)
    on_emulator.launch(f"kernels_im2col_nhwc_{CTYPE[dtype]}", GRID, BLOCK, x, cols, *args)
    _check(cols, reference.im2col(x, size, strides, padding), dtype)


POOL_CASES = [
    ((1, 4, 4, 1), (2, 2), (2, 2), "valid"),
    ((2, 7, 5, 3), (3, 3), (2, 2), "same"),
    ((3, 9, 10, 4), (2, 3), (1, 2), "valid"),
    ((2, 5, 5, 2), (3, 3), (1, 1), "same"),
    ((1, 3, 7, 1), (2, 2), (2, 2), "same"),
    ((1, 6, 5, 2), (3, 2), (1, 1), "same"),  # padding 1 on top, 0 on the left
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("x_shape, pool, strides, padding", POOL_CASES, ids=str)
def test_max_pool_kernels_forward_and_backward(on_emulator, dtype, ties, x_shape, pool, strides, padding):
    (x,) = _inputs(dtype, x_shape, seed=1)
    if ties:
        x = np.round(x).astype(dtype)
    geo, args = _geometry_args(x, pool, strides, padding)
    out = np.full((x_shape[0], geo.out_h, geo.out_w, x_shape[3]), np.nan, dtype)
    on_emulator.launch(f"kernels_max_pool_forward_{CTYPE[dtype]}", GRID, BLOCK, x, out, *args)
    _check(out, reference.max_pool2d(x, pool, strides, padding), dtype)
    (dout,) = _inputs(dtype, out.shape, seed=2)
    dx = np.zeros(x.shape, dtype)
    on_emulator.launch(f"kernels_max_pool_backward_{CTYPE[dtype]}", GRID, BLOCK, dout, x, dx, *args)
    _check(dx, reference.max_pool2d_backward(dout, x, pool, strides, padding), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch, input_dim, units", [(1, 1, 1), (3, 5, 7), (37, 19, 65)], ids=str)
def test_lstm_cell_kernel(on_emulator, dtype, batch, input_dim, units):
    x_t, h, c, kernel, recurrent_kernel, bias = _inputs(
        dtype,
        (batch, input_dim),
        (batch, units),
        (batch, units),
        (input_dim, 4 * units),
        (units, 4 * units),
        (4 * units,),
        seed=3,
        scale=0.5,
    )
    zx, zh = x_t @ kernel, h @ recurrent_kernel  # the two GEMMs cuBLAS does on the GPU
    h_new, c_new = np.full(c.shape, np.nan, dtype), np.full(c.shape, np.nan, dtype)
    on_emulator.launch(
        f"kernels_lstm_cell_{CTYPE[dtype]}",
        GRID,
        BLOCK,
        zx,
        zh,
        bias,
        c,
        h_new,
        c_new,
        np.int64(batch),
        np.int64(units),
    )
    h_expected, c_expected = reference.lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias)
    _check(h_new, h_expected, dtype)
    _check(c_new, c_expected, dtype)


def _elementwise(name: str):
    """The ElementwiseKernel ``kernels._sources.elementwise`` builds, on the emulator."""
    spec = _sources.ELEMENTWISE[name]
    return emulator.ElementwiseKernel(
        spec.in_params, spec.out_params, spec.operation, spec.name, preamble=_sources.preamble()
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_elementwise_bodies(dtype, name):
    (x,) = _inputs(dtype, (1001,), seed=4, scale=6.0)
    x[:4] = [-1000.0, 1000.0, 0.0, -0.0]
    y = emulator.empty(x.shape, dtype)
    _elementwise(name)(emulator.asarray(x), y)
    _check(emulator.asnumpy(y), getattr(reference, name)(x), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh"])
def test_bias_activation_body(dtype, activation):
    z, bias = _inputs(dtype, (37, 11), (11,), seed=5, scale=3.0)
    y = emulator.empty(z.shape, dtype)
    code = np.int32(_sources.ACTIVATION_CODES[activation])
    _elementwise("bias_activation")(emulator.asarray(z), emulator.asarray(bias), code, y)  # bias broadcast
    identity = np.eye(z.shape[1])  # Dense with an identity kernel is activation(z + bias)
    _check(emulator.asnumpy(y), reference.dense_forward(z, identity, bias, activation), dtype)


# ------------------------------------- the public API, down its GPU branch


@pytest.fixture
def gpu(monkeypatch):
    """The emulator as ``cupy``: the public functions take their GPU branch and launch ``kernels/cuda``."""
    monkeypatch.setitem(sys.modules, "cupy", emulator)
    _sources.raw_module.cache_clear()
    _sources.elementwise.cache_clear()
    with traffic.recording() as launches:
        yield launches
    _sources.raw_module.cache_clear()  # never leave emulator modules in the cache
    _sources.elementwise.cache_clear()


def _on_gpu(gpu, function, *arrays, **options):
    device = [emulator.asarray(a) if isinstance(a, np.ndarray) else a for a in arrays]
    before = [np.array(a) for a in device]
    with kernels.nan_filled_outputs():
        result = function(*device, **options)
    assert kernels.last_backend() == "cupy"
    for old, new in zip(before, device):
        assert np.array_equal(old, np.asarray(new)), f"{function.__name__} changed an input"
    results = result if isinstance(result, tuple) else (result,)
    for r in results:
        assert isinstance(r, emulator.ndarray), f"{function.__name__} returned {type(r)} for device inputs"
    return tuple(np.array(r) for r in results)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax"])
def test_api_activations_take_the_gpu_branch(gpu, dtype, name):
    (x,) = _inputs(dtype, (3, 257), seed=6, scale=4.0)
    (y,) = _on_gpu(gpu, getattr(kernels, name), x)
    _check(y, getattr(reference, name)(x), dtype)
    assert gpu and all(launch.kernel.startswith("kernels_") for launch in gpu)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh"])
def test_api_dense_forward_takes_the_gpu_branch(gpu, dtype, activation):
    x, kernel, bias = _inputs(dtype, (5, 13), (13, 7), (7,), seed=7)
    (y,) = _on_gpu(gpu, kernels.dense_forward, x, kernel, bias, activation=activation)
    _check(y, reference.dense_forward(x, kernel, bias, activation), dtype)
    assert [launch.kernel for launch in gpu] == ["kernels_bias_activation"]  # ONE fused kernel


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, size, strides, padding", CONV_CASES, ids=str)
def test_api_im2col_and_conv2d_take_the_gpu_branch(gpu, dtype, x_shape, size, strides, padding):
    x, kernel, bias = _inputs(dtype, x_shape, size + (x_shape[-1], 4), (4,), seed=8)
    (cols,) = _on_gpu(gpu, kernels.im2col, x, size, strides=strides, padding=padding)
    _check(cols, reference.im2col(x, size, strides, padding), dtype)
    (y,) = _on_gpu(gpu, kernels.conv2d, x, kernel, bias, strides=strides, padding=padding)
    _check(y, reference.conv2d(x, kernel, bias, strides, padding), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, pool, strides, padding", POOL_CASES, ids=str)
def test_api_max_pooling_takes_the_gpu_branch(gpu, dtype, x_shape, pool, strides, padding):
    (x,) = _inputs(dtype, x_shape, seed=9)
    x = np.round(x * 2).astype(dtype)  # ties
    (y,) = _on_gpu(gpu, kernels.max_pool2d, x, pool, strides=strides, padding=padding)
    _check(y, reference.max_pool2d(x, pool, strides, padding), dtype)
    (dout,) = _inputs(dtype, y.shape, seed=10)
    (dx,) = _on_gpu(gpu, kernels.max_pool2d_backward, dout, x, pool, strides=strides, padding=padding)
    _check(dx, reference.max_pool2d_backward(dout, x, pool, strides, padding), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_api_lstm_cell_takes_the_gpu_branch(gpu, dtype):
    args = _inputs(dtype, (6, 5), (6, 9), (6, 9), (5, 36), (9, 36), (36,), seed=11, scale=0.5)
    h_new, c_new = _on_gpu(gpu, kernels.lstm_cell, *args)
    h_expected, c_expected = reference.lstm_cell(*args)
    _check(h_new, h_expected, dtype)
    _check(c_new, c_expected, dtype)
    assert [launch.kernel for launch in gpu] == ["kernels_lstm_cell"]


def test_api_mixed_float_dtypes_reach_the_kernel_as_one_dtype(gpu):
    x, kernel, bias = _inputs(np.float32, (4, 3), (3, 2), (2,), seed=12)
    (y,) = _on_gpu(gpu, kernels.dense_forward, x, kernel.astype(np.float64), bias)
    assert y.dtype == np.float64
