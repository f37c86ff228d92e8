"""The RawKernels of ``kernels/cuda/*.cu``, run on the CPU, against TensorFlow.

Without a GPU the CuPy path never runs, so its index arithmetic (im2col's
column order, "same" padding, overlapping pool windows, tie-breaking, the
LSTM gate layout, the softmax block reduction) would go unchecked until
someone has a GPU. Here the very source text CuPy hands NVRTC is compiled by
``g++`` against ``host_cuda.h`` (every CUDA thread a std::thread, real
barriers and shared memory within a block), launched with deliberately small
grids so that the grid-stride loops wrap, and compared with TensorFlow.

The ElementwiseKernel bodies run the same way, inside the CuPy-shaped kernel
of ``kernels._sources.elementwise_standalone_source`` (CuPy's own generated
loop and broadcasting are CuPy's, not checked here).

What this does not check: NVRTC itself (``nvcc -ptx`` covers compiling),
speed, or data races that only real hardware would expose.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from kernels import _sources
from kernels._geometry import window
from reference import kernels as reference

CXX = shutil.which("g++") or shutil.which("clang++")
pytestmark = pytest.mark.skipif(CXX is None, reason="no C++ compiler (g++ or clang++) on PATH")

HERE = Path(__file__).parent
GRID, BLOCK = 3, 32  # small on purpose: most threads walk the grid-stride loop several times

_LAUNCHERS = r"""
#define LAUNCHERS(T, S)                                                                         \
extern "C" void softmax_##S(const T* x, T* y, long long rows, long long cols, unsigned grid) { \
    host_cuda_launch(kernels_softmax_rows<T>, grid, KERNELS_SOFTMAX_BLOCK, x, y, rows, cols);  \
}                                                                                               \
extern "C" void im2col_##S(const T* x, T* cols, const long long* g, unsigned grid, unsigned block) { \
    host_cuda_launch(kernels_im2col_nhwc<T>, grid, block, x, cols, g[0], g[1], g[2], g[3], g[4], \
                     g[5], g[6], g[7], g[8], g[9], g[10], g[11]);                              \
}                                                                                               \
extern "C" void pool_forward_##S(const T* x, T* out, const long long* g, unsigned grid, unsigned block) { \
    host_cuda_launch(kernels_max_pool_forward<T>, grid, block, x, out, g[0], g[1], g[2], g[3],  \
                     g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11]);                         \
}                                                                                               \
extern "C" void pool_backward_##S(const T* dout, const T* x, T* dx, const long long* g,       \
                                  unsigned grid, unsigned block) {                              \
    host_cuda_launch(kernels_max_pool_backward<T>, grid, block, dout, x, dx, g[0], g[1], g[2],  \
                     g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11]);                   \
}                                                                                               \
extern "C" void lstm_##S(const T* zx, const T* zh, const T* bias, const T* c, T* h_new,        \
                         T* c_new, long long batch, long long units, unsigned grid, unsigned block) { \
    host_cuda_launch(kernels_lstm_cell<T>, grid, block, zx, zh, bias, c, h_new, c_new, batch, units); \
}
LAUNCHERS(float, f32)
LAUNCHERS(double, f64)

#define ELEMENTWISE_LAUNCHERS(T, S)                                                              \
extern "C" void relu_##S(const T* x, T* y, long long n) {                                      \
    host_cuda_launch(kernels_relu_##T, HOST_GRID, HOST_BLOCK, x, y, n);                                    \
}                                                                                               \
extern "C" void sigmoid_##S(const T* x, T* y, long long n) {                                   \
    host_cuda_launch(kernels_sigmoid_##T, HOST_GRID, HOST_BLOCK, x, y, n);                                 \
}                                                                                               \
extern "C" void tanh_##S(const T* x, T* y, long long n) {                                      \
    host_cuda_launch(kernels_tanh_##T, HOST_GRID, HOST_BLOCK, x, y, n);                                    \
}                                                                                               \
extern "C" void bias_activation_##S(const T* z, const T* b, int activation, T* y, long long n) { \
    host_cuda_launch(kernels_bias_activation_##T, HOST_GRID, HOST_BLOCK, z, b, activation, y, n);          \
}
ELEMENTWISE_LAUNCHERS(float, f32)
ELEMENTWISE_LAUNCHERS(double, f64)
"""


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """The .cu sources compiled for the CPU, as a ctypes library."""
    folder = tmp_path_factory.mktemp("host_cuda")
    source = ['#include "host_cuda.h"', _sources.preamble()]
    source += [_sources.cuda_source(f"{module}.cu") for module in sorted(_sources.RAW_MODULES)]
    source += [_sources.elementwise_standalone_source(name) for name in sorted(_sources.ELEMENTWISE)]
    launchers = f"\n#define HOST_GRID {GRID}\n#define HOST_BLOCK {BLOCK}\n" + _LAUNCHERS
    (folder / "kernels_host.cpp").write_text("\n".join(source) + launchers)
    library = folder / "kernels_host.so"
    command = [CXX, "-std=c++20", "-O1", "-shared", "-fPIC", "-pthread", "-Wall", "-Werror",
               f"-I{HERE}", "-o", str(library), str(folder / "kernels_host.cpp")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stderr[-4000:]}"
    return ctypes.CDLL(str(library))


def _ptr(array):
    return array.ctypes.data_as(ctypes.c_void_p)


def _suffix(dtype):
    return {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}[np.dtype(dtype)]


def _geometry(x, size, strides, padding):
    geo = window(x.shape[1], x.shape[2], size, strides, padding)
    values = (*x.shape, *size, *strides, geo.pad_top, geo.pad_left, geo.out_h, geo.out_w)
    return geo, np.array(values, dtype=np.int64)


def _check(actual, expected, dtype):
    tolerance = 1e-12 if np.dtype(dtype) == np.float64 else 2e-5
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    assert np.isfinite(actual).all(), "some output elements were never written (still NaN)"
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance * scale)


def _inputs(dtype, *shapes, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=s) * scale).astype(dtype) for s in shapes]


DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 1), (5, 37), (4, 300), (2, 513)], ids=str)
def test_softmax_block_reduction(host, dtype, shape):
    (x,) = _inputs(dtype, shape, scale=5.0)
    y = np.full(shape, np.nan, dtype)
    getattr(host, f"softmax_{_suffix(dtype)}")(_ptr(x), _ptr(y), ctypes.c_longlong(shape[0]),
                                               ctypes.c_longlong(shape[1]), ctypes.c_uint(min(shape[0], 2)))
    _check(y, reference.softmax(x), dtype)


CONV_CASES = [
    ((1, 1, 1, 1), (1, 1), (1, 1), "valid"),
    ((2, 7, 6, 3), (3, 2), (2, 1), "same"),
    ((1, 4, 4, 2), (5, 5), (1, 1), "same"),
    ((2, 8, 8, 3), (2, 2), (3, 3), "valid"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, size, strides, padding", CONV_CASES, ids=str)
def test_im2col_kernel(host, dtype, x_shape, size, strides, padding):
    (x,) = _inputs(dtype, x_shape)
    geo, g = _geometry(x, size, strides, padding)
    cols = np.full((x_shape[0] * geo.out_h * geo.out_w, size[0] * size[1] * x_shape[3]), np.nan, dtype)
    getattr(host, f"im2col_{_suffix(dtype)}")(_ptr(x), _ptr(cols), _ptr(g), GRID, BLOCK)
    _check(cols, reference.im2col(x, size, strides, padding), dtype)


POOL_CASES = [
    ((1, 4, 4, 1), (2, 2), (2, 2), "valid"),
    ((2, 7, 5, 3), (3, 3), (2, 2), "same"),
    ((3, 9, 10, 4), (2, 3), (1, 2), "valid"),
    ((2, 5, 5, 2), (3, 3), (1, 1), "same"),
    ((1, 3, 7, 1), (2, 2), (2, 2), "same"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("x_shape, pool, strides, padding", POOL_CASES, ids=str)
def test_max_pool_kernels_forward_and_backward(host, dtype, ties, x_shape, pool, strides, padding):
    (x,) = _inputs(dtype, x_shape, seed=1)
    if ties:
        x = np.round(x).astype(dtype)
    geo, g = _geometry(x, pool, strides, padding)
    out = np.full((x_shape[0], geo.out_h, geo.out_w, x_shape[3]), np.nan, dtype)
    getattr(host, f"pool_forward_{_suffix(dtype)}")(_ptr(x), _ptr(out), _ptr(g), GRID, BLOCK)
    _check(out, reference.max_pool2d(x, pool, strides, padding), dtype)
    (dout,) = _inputs(dtype, out.shape, seed=2)
    dx = np.zeros(x.shape, dtype)
    getattr(host, f"pool_backward_{_suffix(dtype)}")(_ptr(dout), _ptr(x), _ptr(dx), _ptr(g), GRID, BLOCK)
    _check(dx, reference.max_pool2d_backward(dout, x, pool, strides, padding), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch, input_dim, units", [(1, 1, 1), (3, 5, 7), (37, 19, 65)], ids=str)
def test_lstm_cell_kernel(host, dtype, batch, input_dim, units):
    x_t, h, c, kernel, recurrent_kernel, bias = _inputs(
        dtype, (batch, input_dim), (batch, units), (batch, units), (input_dim, 4 * units),
        (units, 4 * units), (4 * units,), seed=3, scale=0.5)
    zx, zh = x_t @ kernel, h @ recurrent_kernel  # the two GEMMs cuBLAS does on the GPU
    h_new, c_new = np.full(c.shape, np.nan, dtype), np.full(c.shape, np.nan, dtype)
    getattr(host, f"lstm_{_suffix(dtype)}")(_ptr(zx), _ptr(zh), _ptr(bias), _ptr(c), _ptr(h_new), _ptr(c_new),
                                            ctypes.c_longlong(batch), ctypes.c_longlong(units), GRID, BLOCK)
    h_expected, c_expected = reference.lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias)
    _check(h_new, h_expected, dtype)
    _check(c_new, c_expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_elementwise_bodies(host, dtype, name):
    (x,) = _inputs(dtype, (1001,), seed=4, scale=6.0)
    x[:4] = [-1000.0, 1000.0, 0.0, -0.0]
    y = np.full(x.shape, np.nan, dtype)
    getattr(host, f"{name}_{_suffix(dtype)}")(_ptr(x), _ptr(y), ctypes.c_longlong(x.size))
    _check(y, getattr(reference, name)(x), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh"])
def test_bias_activation_body(host, dtype, activation):
    z, bias = _inputs(dtype, (37, 11), (11,), seed=5, scale=3.0)
    full_bias = np.ascontiguousarray(np.broadcast_to(bias, z.shape))  # CuPy broadcasts; this shim does not
    y = np.full(z.shape, np.nan, dtype)
    code = _sources.ACTIVATION_CODES[activation]
    getattr(host, f"bias_activation_{_suffix(dtype)}")(_ptr(z), _ptr(full_bias), ctypes.c_int(code), _ptr(y),
                                                       ctypes.c_longlong(z.size))
    identity = np.eye(z.shape[1], dtype=np.float64)  # Dense(x = z, kernel = I) is activation(z + bias)
    _check(y, reference.dense_forward(z, identity, bias, activation), dtype)
