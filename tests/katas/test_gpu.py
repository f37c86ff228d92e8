"""Kata tests for katas/gpu.py, checked against TensorFlow/Keras.

Every case runs the learner's kernels through ``dojo.gpu.cp``: CuPy on a CUDA
device, the CPU emulator elsewhere (never skipped). Sizes are awkward on
purpose: 1, 3, primes, never a multiple of the block, so that a missing or
off-by-one guard, a grid one block short, or a swapped row and column shows.
On the emulator, an out-of-bounds access, a data race and a barrier not every
thread reaches stop the launch with the thread, block, array and index.
"""

import math

import numpy as np
import pytest

from dojo.gpu import checks as gpu_checks
from dojo.testkit.checks import KataFailure, assert_close
from reference import gpu as ref

# left out of the quick tier: the answer key against every kata (capstones train models): the full suite's part
pytestmark = pytest.mark.slow


def _rng(seed):
    return np.random.default_rng(seed)


#: The katas ask for float64 and the reference computes in float64: a kernel that does too agrees to
#: ~1e-15 (sums in another order, exp to an ulp). float32 anywhere inside (expf, a `float` variable,
#: 1.0f) leaves ~1e-7: the tolerance sits between the two, so float32 fails and float64 passes.
FLOAT64_RTOL = 1e-10


#: TensorFlow's LeakyRelu op keeps its slope in a float32 attribute: Keras's 0.2 is 0.2f there, 1.5e-8 off
#: a float64 0.2. A learner's float64 kernel is right; the comparison allows the reference's rounding.
LEAKY_RELU_RTOL = 1e-7


def _scale(expected) -> float:
    """The size of a typical result: absolute tolerances scale with it (a 1e300 outlier does not count)."""
    magnitudes = np.abs(np.asarray(expected, dtype=float))
    magnitudes = magnitudes[np.isfinite(magnitudes)]
    return max(1.0, float(np.percentile(magnitudes, 90))) if magnitudes.size else 1.0


def _float32_note(got: np.ndarray, expected: np.ndarray) -> str:
    """Say so when a result agrees only to float32's ~7 digits."""
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape or not np.isfinite(got).all():
        return ""
    scale = _scale(expected)
    if np.allclose(got, expected, rtol=1e-5, atol=1e-5 * scale):
        worst = float(np.max(np.abs(got - expected) / (np.abs(expected) + 1e-300 + FLOAT64_RTOL * scale)))
        return (
            f"your result agrees only to about {max(1, round(-np.log10(max(worst, 1e-16))))} digits (float32's "
            f"precision): the kata asks for float64, so every intermediate is double: exp not expf, double "
            f"not float, 1.0 not 1.0f"
        )
    return ""


def _check(
    kata,
    kata_id,
    call,
    expected,
    *args,
    mistakes=None,
    advice=None,
    request=None,
    grid_stride=False,
    second_order=True,
    rtol=FLOAT64_RTOL,
    **kwargs,
):
    """Run, explain unwritten elements, compare (one result or a tuple) in float64's precision."""
    run = gpu_checks.run(
        kata, *args, kata_id=kata_id, call=call, advice=advice, request=request, second_order=second_order, **kwargs
    )
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(run.results) == len(expected), f"{call} returned {len(run.results)} arrays, expected {len(expected)}"
    for index, value in enumerate(expected):
        gpu_checks.unwritten(run, index, value, call, kata_id, grid_stride=grid_stride)
        name = "" if len(expected) == 1 else f" (result {index})"
        assert_close(
            run.results[index],
            value,
            call=call + name,
            rtol=rtol,
            atol=rtol * _scale(value),
            note=_float32_note(run.results[index], value),
            mistakes=(mistakes or [{}] * len(expected))[index] if isinstance(mistakes, list) else (mistakes or {}),
        )
    return run


# ------------------------------------------------------------------ kata gpu.leaky_relu


@pytest.mark.kata("gpu.leaky_relu")
@pytest.mark.parametrize("shape, slope", [((1,), None), ((3,), 0.01), ((257,), None), ((37, 11), 0.5)], ids=str)
def test_leaky_relu_matches_keras(kata, request, shape, slope):
    x = _rng(7).normal(scale=3.0, size=shape)
    x.flat[: min(3, x.size)] = [0.0, -0.0, 1e300][: min(3, x.size)]
    kwargs = {} if slope is None else {"negative_slope": slope}
    keras_slope = 0.2 if slope is None else slope
    call = f"leaky_relu(x {shape}{'' if slope is None else f', negative_slope={slope}'})"
    _check(
        kata,
        "gpu.leaky_relu",
        call,
        ref.leaky_relu(x, keras_slope),
        x,
        request=request,
        rtol=LEAKY_RELU_RTOL,
        mistakes={
            "the slope went to the positive side: y = x for x >= 0, negative_slope * x below": np.where(
                x >= 0, keras_slope * x, x
            ),
            "Keras's default negative_slope is 0.2 (not 0.01)": np.where(x >= 0, x, 0.01 * x),
        },
        **kwargs,
    )


# ------------------------------------------------------------------ kata gpu.relu

GUARD = {
    r"out of bounds": "Here i = blockIdx.x * blockDim.x + threadIdx.x runs past n in the last block: "
    "only threads with i < n may touch x and y (not i <= n)."
}


@pytest.mark.kata("gpu.relu")
@pytest.mark.parametrize("shape", [(1,), (3,), (257,), (1000,), (7, 13)], ids=str)
def test_relu(kata, request, shape):
    x = _rng(1).normal(size=shape)
    _check(kata, "gpu.relu", f"relu(x {shape})", ref.relu(x), x, advice=GUARD, request=request)


# ------------------------------------------------------------------ kata gpu.add_bias


@pytest.mark.kata("gpu.add_bias")
@pytest.mark.parametrize("batch, units", [(1, 1), (3, 5), (37, 13), (5, 40)], ids=str)
def test_add_bias(kata, request, batch, units):
    rng = _rng(batch * 100 + units)
    x, bias = rng.normal(size=(batch, units)), rng.normal(size=(units,))
    swapped = {
        r"out of bounds": "In a 2-D grid, x (blockIdx.x, threadIdx.x) runs along a row (the column) "
        "and y down the batch (the row): are row and column swapped?"
    }
    _check(
        kata,
        "gpu.add_bias",
        f"add_bias(x ({batch}, {units}), bias ({units},))",
        ref.add_bias(x, bias),
        x,
        bias,
        advice=swapped,
        request=request,
        mistakes={"the bias was not added: y = x + bias[col]": x},
    )


# ------------------------------------------------------------------ kata gpu.sigmoid


@pytest.mark.kata("gpu.sigmoid")
@pytest.mark.parametrize(
    "n, blocks, threads", [(1, 1, 32), (3, 4, 64), (1000, 2, 32), (4099, 3, 64), (131, 7, 96)], ids=str
)
def test_sigmoid_for_any_grid(kata, request, n, blocks, threads):
    x = _rng(n).normal(scale=4.0, size=(n,))
    x[: min(2, n)] = [-1000.0, 1000.0][: min(2, n)]
    stride = {
        r"data race on y": "In a grid-stride loop the step is the whole grid, blockDim.x * gridDim.x: "
        "with a smaller step, threads of different blocks do the same elements."
    }
    _check(
        kata,
        "gpu.sigmoid",
        f"sigmoid(x ({n},), blocks={blocks}, threads={threads})",
        ref.sigmoid(x),
        x,
        advice=stride,
        grid_stride=True,
        request=request,
        blocks=blocks,
        threads=threads,
    )


# ------------------------------------------------------------------ kata gpu.row_sums


def _shared_too_small_or_index(fault) -> str:
    """Too little shared memory, or an index past it (a reduction's stride): the launch tells which."""
    launch = fault.launch
    if launch is not None and launch.dynamic_shared < launch.threads_per_block * 8:
        return (
            f"shared_mem is in bytes: one double per thread is threads * 8 = {launch.threads_per_block * 8}, "
            f"not {launch.dynamic_shared} (shared_mem=threads * x.itemsize)"
        )
    return (
        "The index runs past the block's partial sums: a tree reduction's first stride is blockDim.x / 2, "
        "and only threads with t < stride add partial[t + stride]"
    )


_MISSING_BARRIER = (
    "Every thread writes its partial value, then __syncthreads(); then each halving step, then "
    "__syncthreads() again, before anyone reads the next level."
)
_OUTPUT_RACE = (
    "Many threads adding into out[row] race: reduce in shared memory, then ONE thread "
    "(t == 0) writes the row's sum (or use atomicAdd(&out[row], v))."
)
SHARED_ADVICE = {
    r"dynamic shared \w+\[\d+\], but the launch gave": _shared_too_small_or_index,
    r"__syncthreads\(\) is missing|data race on shared": _MISSING_BARRIER,
    r"data race on out": _OUTPUT_RACE,
}
ROW_SUMS_ADVICE = SHARED_ADVICE


@pytest.mark.kata("gpu.row_sums")
@pytest.mark.parametrize("rows, cols", [(1, 1), (3, 7), (2, 129), (5, 300)], ids=str)
def test_row_sums(kata, request, rows, cols):
    x = _rng(rows + cols).normal(size=(rows, cols))
    _check(
        kata,
        "gpu.row_sums",
        f"row_sums(x ({rows}, {cols}))",
        ref.row_sums(x),
        x,
        advice=ROW_SUMS_ADVICE,
        request=request,
        mistakes={
            "the first element of each row is missing: the strided loop starts at j = threadIdx.x": x[:, 1:].sum(1),
        }
        if cols > 1
        else {},
    )


# ------------------------------------------------------------------ kata gpu.warp_row_sums

WARP_ADVICE = {
    r"its own lane is not in the mask|not in the mask 0x": "Every step of the reduction involves the whole warp: "
    "the mask is 0xffffffff, and all 32 lanes call __shfl_down_sync (lanes past the data add 0.0).",
    r"of its mask has exited|of its mask waits at": "A warp shuffle is a meeting of every lane in its mask: keep it "
    "outside `if (lane < ...)`; let the lanes with nothing to add bring 0.0 instead.",
    r"data race on shared per_warp|before any thread of its block wrote it": "Lane 0 of each warp writes its slot; "
    "__syncthreads(); only then does warp 0 read the slots, and only the blockDim.x / 32 that were written.",
    r"data race on out": "One value per row: lane 0 of warp 0 writes out[row] after the second stage, not every "
    "warp's lane 0.",
}


@pytest.mark.kata("gpu.warp_row_sums")
@pytest.mark.parametrize("rows, cols", [(1, 1), (3, 7), (2, 129), (5, 300), (2, 1000)], ids=str)
def test_warp_row_sums(kata, request, rows, cols):
    x = _rng(rows * 3 + cols).normal(size=(rows, cols))
    _check(
        kata,
        "gpu.warp_row_sums",
        f"warp_row_sums(x ({rows}, {cols}))",
        ref.row_sums(x),
        x,
        advice=WARP_ADVICE,
        request=request,
        mistakes={
            "lane 0 added its own value to itself, 10 times over (1024x its slice): __shfl_up_sync hands lane 0 "
            "its own value; the reduction down to lane 0 needs __shfl_down_sync": 1024 * x[:, ::256].sum(1),
        },
    )


# ------------------------------------------------------------------ kata gpu.softmax

SOFTMAX_ADVICE = {
    **SHARED_ADVICE,
    r"data race on shared": "After the tree, every thread reads partial[0] into a local; then one more "
    "__syncthreads() before partial[] is reused by the next reduction.",
}


@pytest.mark.kata("gpu.softmax")
@pytest.mark.parametrize(
    "rows, cols, scale", [(1, 1, 1.0), (1, 3, 1.0), (3, 7, 3.0), (2, 131, 2.0), (4, 300, 1.0), (2, 5, 1000.0)], ids=str
)
def test_softmax(kata, request, rows, cols, scale):
    x = _rng(rows * cols).normal(scale=scale, size=(rows, cols))
    if (rows, cols) == (1, 3):
        x = np.array([[2.0, 1.0, 0.1]])
    e = np.exp(x - x.max(axis=1, keepdims=True))
    mistakes = {
        "every row must be normalised by its OWN sum (one block per row, the sum reduction over that row)": e / e.sum(),
        "y is exp(x - max) without the division by the row's sum": e,
    }
    _check(
        kata,
        "gpu.softmax",
        f"softmax(x ({rows}, {cols}){' values around 1000' if scale > 100 else ''})",
        ref.softmax(x),
        x,
        advice=SOFTMAX_ADVICE,
        request=request,
        mistakes=mistakes,
    )


# ------------------------------------------------------------------ kata gpu.dense_forward

_TILE_BARRIERS = (
    "A tile must be complete before anyone multiplies with it (__syncthreads() after the loads), and "
    "nobody may still read it when the next loads overwrite it (__syncthreads() after the products)."
)
_TILE_GUARD = (
    "Tile loads need their own guard: load 0.0 where row >= batch, the input index "
    "start + tx (or start + ty) >= inputs, or col >= units."
)
_TILE_INDEX = "Tiles are [TILE][TILE]: threadIdx.x and threadIdx.y index them, never the global row or column."
TILE_ADVICE = {
    r"data race on shared|__syncthreads\(\) is missing": _TILE_BARRIERS,
    r"read x\[|read kernel\[": _TILE_GUARD,
    r"shared \w+\[\d+\]\[\d+\]": _TILE_INDEX,
}


@pytest.mark.kata("gpu.dense_forward")
@pytest.mark.parametrize("batch, inputs, units", [(1, 1, 1), (3, 5, 7), (37, 19, 23), (17, 40, 3)], ids=str)
def test_dense_forward(kata, request, batch, inputs, units):
    rng = _rng(batch * 7 + inputs)
    x, kernel, bias = rng.normal(size=(batch, inputs)), rng.normal(size=(inputs, units)), rng.normal(size=(units,))
    _check(
        kata,
        "gpu.dense_forward",
        f"dense_forward(x ({batch}, {inputs}), kernel ({inputs}, {units}), bias ({units},))",
        ref.dense_forward(x, kernel, bias),
        x,
        kernel,
        bias,
        advice=TILE_ADVICE,
        request=request,
        mistakes={"the bias is missing: y = x @ kernel + bias": x @ kernel},
    )


# ------------------------------------------------------------------ kata gpu.transpose

TRANSPOSE_ADVICE = {
    r"data race on shared tile|before any thread of its block wrote it": "The tile is complete only after every "
    "thread has loaded its rows: __syncthreads() between the loads and the stores.",
    r"read x\[": "Tiles at the right and bottom edges stick out of x: load only where row0 + k < rows and "
    "col0 + tx < cols.",
    r"(wrote|read) y\[|wrote y": "y is (cols, rows): its row is col0 + k (< cols), its column row0 + tx (< rows), "
    "and its row length is rows: y[(col0 + k) * rows + row0 + tx].",
    r"shared tile\[": "The tile is [32][33] and the block (32, 8): tx runs along a row of the tile, k = ty, "
    "ty + 8, ... down it.",
}


@pytest.mark.kata("gpu.transpose")
@pytest.mark.parametrize("rows, cols", [(1, 1), (1, 7), (7, 1), (31, 33), (64, 32), (33, 100)], ids=str)
def test_transpose(kata, request, rows, cols):
    x = _rng(rows * 100 + cols).normal(size=(rows, cols))
    _check(
        kata,
        "gpu.transpose",
        f"transpose(x ({rows}, {cols}))",
        ref.transpose(x),
        x,
        advice=TRANSPOSE_ADVICE,
        request=request,
    )


@pytest.mark.kata("gpu.transpose")
def test_transpose_reads_and_writes_coalesced_without_bank_conflicts(kata):
    """The point of the tile: whole sectors both ways, and a padded tile (emulator: sectors and banks counted)."""
    import dojo.gpu
    from dojo.gpu import traffic

    if not dojo.gpu.emulated():
        pytest.skip("sectors and bank conflicts are counted by the emulator; on a GPU, profile with Nsight Compute")
    x = _rng(5).normal(size=(64, 96))
    run = gpu_checks.run(kata, x, kata_id="gpu.transpose", call="transpose(x (64, 96))", second_order=False)
    measured = traffic.measure(run.launches)
    for line in traffic.coalescing(measured)[1:]:
        if "sectors it needs" in line:
            raise KataFailure(
                f"transpose(x (64, 96)) {line.strip()}: a warp's 32 threads should read 32 neighbouring elements "
                f"of x and write 32 neighbouring elements of y. Read a 32x32 tile of x by rows into shared "
                f"memory, __syncthreads(), and write the tile's columns as rows of y"
            )
    if measured.bank_replays:
        line, ways = measured.conflict
        raise KataFailure(
            f"transpose(x (64, 96)): {measured.bank_replays:,} shared-memory bank-conflict replays (line {line}, "
            f"{ways}-way): a column of a [32][32] tile of doubles falls in one bank. Pad the tile to "
            f"[32][33], so that a column spreads over all 32 banks"
        )


# ------------------------------------------------------------------ kata gpu.conv2d


def _conv_mistakes(x, kernel, bias):
    mistakes = {"the bias is missing: start each sum at bias[o]": ref.conv2d(x, kernel, np.zeros_like(bias))}
    if kernel.shape[0] != kernel.shape[1]:
        return mistakes
    mistakes[
        "the kernel's window axes are swapped: kernel[dy, dx, c, o] is at ((dy * kw + dx) * in_ch + c) * out_ch + o"
    ] = ref.conv2d(x, kernel.transpose(1, 0, 2, 3).copy(), bias)
    return mistakes


@pytest.mark.kata("gpu.conv2d")
@pytest.mark.parametrize(
    "x_shape, k_shape",
    [
        ((1, 3, 3, 1), (3, 3, 1, 1)),
        ((2, 5, 7, 3), (2, 3, 3, 4)),
        ((1, 6, 5, 2), (3, 3, 2, 3)),
        ((3, 4, 4, 1), (1, 1, 1, 2)),
    ],
    ids=str,
)
def test_conv2d(kata, request, x_shape, k_shape):
    rng = _rng(sum(x_shape) + sum(k_shape))
    x, kernel, bias = rng.normal(size=x_shape), rng.normal(size=k_shape), rng.normal(size=k_shape[-1:])
    _check(
        kata,
        "gpu.conv2d",
        f"conv2d(x {x_shape}, kernel {k_shape}, bias {k_shape[-1:]})",
        ref.conv2d(x, kernel, bias),
        x,
        kernel,
        bias,
        request=request,
        mistakes=_conv_mistakes(x, kernel, bias),
    )


# ------------------------------------------------------------------ kata gpu.lstm_cell


def _reorder_gates(weights, order):
    blocks = np.split(np.asarray(weights), 4, axis=-1)
    return np.concatenate([blocks[k] for k in order], axis=-1)


@pytest.mark.kata("gpu.lstm_cell")
@pytest.mark.parametrize("batch, input_dim, units", [(1, 1, 1), (3, 5, 7), (13, 4, 37)], ids=str)
def test_lstm_cell(kata, request, batch, input_dim, units):
    rng = _rng(batch + input_dim + units)
    x_t, h, c = rng.normal(size=(batch, input_dim)), rng.normal(size=(batch, units)), rng.normal(size=(batch, units))
    kernel = 0.5 * rng.normal(size=(input_dim, 4 * units))
    recurrent = 0.5 * rng.normal(size=(units, 4 * units))
    bias = rng.normal(size=(4 * units,))
    expected = ref.lstm_cell(x_t, h, c, kernel, recurrent, bias)
    ifoc = [0, 1, 3, 2]  # a course that orders the gates i, f, o, c
    swapped = ref.lstm_cell(
        x_t, h, c, _reorder_gates(kernel, ifoc), _reorder_gates(recurrent, ifoc), _reorder_gates(bias, ifoc)
    )
    no_bias = ref.lstm_cell(x_t, h, c, kernel, recurrent, np.zeros_like(bias))
    gate = (
        "Keras's gate order is i, f, c, o: the candidate (tanh) is the THIRD block of units, the output gate the last"
    )
    _check(
        kata,
        "gpu.lstm_cell",
        f"lstm_cell(x_t ({batch}, {input_dim}), h, c ({batch}, {units}), ...)",
        expected,
        x_t,
        h,
        c,
        kernel,
        recurrent,
        bias,
        request=request,
        mistakes=[
            {gate: swapped[0], "the bias is missing (add bias[k * units + j] to each gate)": no_bias[0]},
            {gate: swapped[1], "the bias is missing (add bias[k * units + j] to each gate)": no_bias[1]},
        ],
    )


# ------------------------------------------------------------------ fuzzed launches
#
# Every kata also runs over a fixed set of sizes (1, 31, 32, 33, 1025, ...: a warp, one less, one more,
# never a multiple of the block) and, where the kata lets the caller choose them, launch shapes (several
# block sizes, more blocks than an H200 holds at once). The cases run smallest first, so the first that
# fails is the smallest failing one: that is the case the message shows. The second thread order is left
# to the tests above (it would double the time here).

#: An H200 holds 132 SMs x 16 resident blocks of 128 threads: more blocks than that run in several waves.
MORE_BLOCKS_THAN_RESIDENT = 132 * 16 + 88


def _fuzz(kata, kata_id, cases, run_case):
    """``cases``: (label, size) pairs; ``run_case(label)`` checks one. Smallest first; the first failure is shown."""
    ordered = sorted(cases, key=lambda case: case[1])
    passed = []
    for label, _size in ordered:
        try:
            run_case(label)
        except KataFailure as failure:
            fine = f"; it passes {', '.join(passed[-3:])}" if passed else ""
            raise KataFailure(
                f"{failure}\n  (fuzzed launches: {label} is the smallest of the {len(ordered)} sizes and launch "
                f"shapes tried that fails{fine})",
                failure.mistake,
            ) from None
        passed.append(label)


def _elements(n):
    return _rng(n).normal(scale=3.0, size=(n,))


@pytest.mark.kata("gpu.leaky_relu")
def test_leaky_relu_over_sizes(kata):
    sizes = [1, 31, 32, 33, 127, 129, 1025, 4099]

    def one(label):
        x = _elements(int(label[2:]))
        call = f"leaky_relu(x ({x.size},))"
        _check(kata, "gpu.leaky_relu", call, ref.leaky_relu(x, 0.2), x, second_order=False, rtol=LEAKY_RELU_RTOL)

    _fuzz(kata, "gpu.leaky_relu", [(f"n={n}", n) for n in sizes], one)


@pytest.mark.kata("gpu.relu")
def test_relu_over_sizes_and_more_blocks_than_the_device_holds(kata):
    sizes = [1, 31, 32, 33, 127, 129, 1025, 4099, MORE_BLOCKS_THAN_RESIDENT * 128 + 1]

    def one(label):
        x = _elements(int(label[2:]))
        _check(kata, "gpu.relu", f"relu(x ({x.size},))", ref.relu(x), x, advice=GUARD, second_order=False)

    _fuzz(kata, "gpu.relu", [(f"n={n}", n) for n in sizes], one)


@pytest.mark.kata("gpu.add_bias")
def test_add_bias_over_shapes(kata):
    shapes = [(1, 1), (1, 17), (17, 1), (16, 16), (31, 33), (33, 31), (2, 1025)]

    def one(label):
        batch, units = map(int, label.split("x"))
        rng = _rng(batch * 1000 + units)
        x, bias = rng.normal(size=(batch, units)), rng.normal(size=(units,))
        call = f"add_bias(x ({batch}, {units}), bias ({units},))"
        _check(kata, "gpu.add_bias", call, ref.add_bias(x, bias), x, bias, second_order=False)

    _fuzz(kata, "gpu.add_bias", [(f"{b}x{u}", b * u) for b, u in shapes], one)


@pytest.mark.kata("gpu.sigmoid")
def test_sigmoid_over_sizes_and_launch_shapes(kata):
    cases = [(n, blocks, threads) for n in (1, 33, 1025) for blocks in (1, 3) for threads in (32, 96, 1024)]
    cases.append((1025, MORE_BLOCKS_THAN_RESIDENT, 128))

    def one(label):
        n, blocks, threads = (int(part.split("=")[1]) for part in label.split(", "))
        x = _elements(n)
        call = f"sigmoid(x ({n},), blocks={blocks}, threads={threads})"
        _check(
            kata,
            "gpu.sigmoid",
            call,
            ref.sigmoid(x),
            x,
            grid_stride=True,
            second_order=False,
            blocks=blocks,
            threads=threads,
        )

    _fuzz(kata, "gpu.sigmoid", [(f"n={n}, blocks={b}, threads={t}", (n, b * t)) for n, b, t in cases], one)


def _rows(kata, kata_id, function, advice, shapes):
    def one(label):
        rows, cols = map(int, label.split("x"))
        x = _rng(rows * 7 + cols).normal(size=(rows, cols))
        _check(kata, kata_id, f"{kata_id[4:]}(x ({rows}, {cols}))", function(x), x, advice=advice, second_order=False)

    _fuzz(kata, kata_id, [(f"{r}x{c}", r * c) for r, c in shapes], one)


@pytest.mark.kata("gpu.row_sums")
def test_row_sums_over_shapes(kata):
    _rows(kata, "gpu.row_sums", ref.row_sums, ROW_SUMS_ADVICE, [(1, 1), (1, 31), (1, 32), (1, 33), (3, 1025), (300, 2)])


@pytest.mark.kata("gpu.softmax")
def test_softmax_over_shapes(kata):
    _rows(kata, "gpu.softmax", ref.softmax, SOFTMAX_ADVICE, [(1, 1), (1, 31), (1, 32), (1, 33), (2, 1025), (100, 3)])


@pytest.mark.kata("gpu.dense_forward")
def test_dense_forward_over_shapes(kata):
    shapes = [(1, 1, 1), (1, 17, 1), (17, 1, 17), (16, 16, 16), (33, 31, 17), (32, 33, 1)]

    def one(label):
        batch, inputs, units = map(int, label.split("x"))
        rng = _rng(batch + 10 * inputs + 100 * units)
        x, kernel, bias = rng.normal(size=(batch, inputs)), rng.normal(size=(inputs, units)), rng.normal(size=(units,))
        call = f"dense_forward(x ({batch}, {inputs}), kernel ({inputs}, {units}), bias ({units},))"
        _check(
            kata,
            "gpu.dense_forward",
            call,
            ref.dense_forward(x, kernel, bias),
            x,
            kernel,
            bias,
            advice=TILE_ADVICE,
            second_order=False,
        )

    _fuzz(kata, "gpu.dense_forward", [("x".join(map(str, s)), math.prod(s)) for s in shapes], one)


@pytest.mark.kata("gpu.conv2d")
def test_conv2d_over_shapes(kata):
    shapes = [
        ((1, 1, 1, 1), (1, 1, 1, 1)),
        ((1, 2, 2, 1), (2, 2, 1, 1)),
        ((2, 6, 1, 3), (3, 1, 3, 2)),
        ((1, 9, 10, 2), (3, 3, 2, 33)),
    ]

    def one(label):
        x_shape, k_shape = shapes[int(label.split(":")[0])]
        rng = _rng(sum(x_shape) * 3 + sum(k_shape))
        x, kernel, bias = rng.normal(size=x_shape), rng.normal(size=k_shape), rng.normal(size=k_shape[-1:])
        call = f"conv2d(x {x_shape}, kernel {k_shape}, bias {k_shape[-1:]})"
        _check(kata, "gpu.conv2d", call, ref.conv2d(x, kernel, bias), x, kernel, bias, second_order=False)

    cases = [(f"{k}: x {x} kernel {w}", math.prod(x) * math.prod(w)) for k, (x, w) in enumerate(shapes)]
    _fuzz(kata, "gpu.conv2d", cases, one)


@pytest.mark.kata("gpu.lstm_cell")
def test_lstm_cell_over_shapes(kata):
    shapes = [(1, 1, 1), (1, 3, 33), (33, 2, 1), (2, 1, 129)]

    def one(label):
        batch, input_dim, units = map(int, label.split("x"))
        rng = _rng(batch * 31 + input_dim * 7 + units)
        x_t, h, c = (
            rng.normal(size=(batch, input_dim)),
            rng.normal(size=(batch, units)),
            rng.normal(size=(batch, units)),
        )
        kernel, recurrent = 0.5 * rng.normal(size=(input_dim, 4 * units)), 0.5 * rng.normal(size=(units, 4 * units))
        bias = rng.normal(size=(4 * units,))
        expected = ref.lstm_cell(x_t, h, c, kernel, recurrent, bias)
        call = f"lstm_cell(x_t ({batch}, {input_dim}), h, c ({batch}, {units}), ...)"
        _check(kata, "gpu.lstm_cell", call, expected, x_t, h, c, kernel, recurrent, bias, second_order=False)

    _fuzz(kata, "gpu.lstm_cell", [("x".join(map(str, s)), math.prod(s)) for s in shapes], one)


@pytest.mark.kata("gpu.warp_row_sums")
def test_warp_row_sums_over_shapes(kata):
    _rows(kata, "gpu.warp_row_sums", ref.row_sums, WARP_ADVICE, [(1, 1), (1, 31), (1, 32), (1, 33), (3, 1025), (40, 2)])


@pytest.mark.kata("gpu.transpose")
def test_transpose_over_shapes(kata):
    shapes = [(1, 1), (1, 31), (32, 1), (32, 32), (33, 31), (65, 2), (3, 1025)]

    def one(label):
        rows, cols = map(int, label.split("x"))
        x = _rng(rows * 7 + cols).normal(size=(rows, cols))
        call = f"transpose(x ({rows}, {cols}))"
        _check(kata, "gpu.transpose", call, ref.transpose(x), x, advice=TRANSPOSE_ADVICE, second_order=False)

    _fuzz(kata, "gpu.transpose", [(f"{r}x{c}", r * c) for r, c in shapes], one)
