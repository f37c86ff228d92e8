"""GPU kernels.

A GPU runs one small function, the *kernel*, in thousands of threads at once.
Threads come in *blocks* (up to 1024 threads each); the blocks form a *grid*.
Every thread knows where it is and computes which element is its own:

    grid of 3 blocks, 4 threads each            i = blockIdx.x * blockDim.x + threadIdx.x

    block 0          block 1          block 2
    t0 t1 t2 t3      t0 t1 t2 t3      t0 t1 t2 t3
    |  |  |  |       |  |  |  |       |  |  |  |
    x[0] ... x[3]    x[4] ... x[7]    x[8] x[9]  (x[10], x[11] do not exist: guard them!)

The threads of one block can share fast on-chip memory (``__shared__``) and
wait for each other (``__syncthreads()``); blocks cannot wait for each other.

You write real CuPy: ``cp`` below is CuPy on a machine with an NVIDIA GPU,
and the CPU emulator (dojo/gpu/) everywhere else. The emulator runs your
CUDA C as it is, one coroutine per CUDA thread, with real barriers and real
shared memory, and it stops a launch with a message naming the thread, the
block, the array and the index of any out-of-bounds access, a data race
(a missing ``__syncthreads()``, threads adding into one element without
``atomicAdd``), or a barrier that not every thread reaches. It also counts
every byte your threads read and write: ``pytest --bench -k gpu`` shows your
kernels' traffic against the ideal and a modelled time on an H200.
``KATAS_GPU_PICTURE=1 pytest --kata gpu.relu`` draws which thread touched
which element (``.katas/gpu/``).

Arrays are float64, so kernels take ``const double*`` inputs and ``double*``
outputs; sizes go in as ``int`` (pass ``cp.int32(n)``: a kernel reads exactly
the bytes it is given). Kernels compile once, at their first call.
"""

from dojo.gpu import cp

# A solved example, to show the shape of an answer: the kernel is defined once,
# at module level; the function allocates the output and launches it.
_negate_kernel = cp.RawKernel(
    r"""
extern "C" __global__ void katas_negate(const double* x, double* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        y[i] = -x[i];
    }
}
""",
    "katas_negate",
)


def negate(x):
    """``-x``, one thread per element (128 threads a block, enough blocks to cover x)."""
    y = cp.empty_like(x)
    threads = 128
    blocks = (x.size + threads - 1) // threads
    _negate_kernel((blocks,), (threads,), (x, y, cp.int32(x.size)))
    return y


def leaky_relu(x, negative_slope=0.2):
    """Leaky ReLU with your own ``cp.ElementwiseKernel``.

        y = x                    where x >= 0
        y = negative_slope * x   elsewhere        (Keras's default slope: 0.2)

    An ElementwiseKernel is the gentlest kernel: you write what ONE thread
    does to ONE element, and CuPy writes the loop, the grid and the guard::

        x:  [ -2.0 | 0.5 | -1.0 | 3.0 ]
               |      |      |      |        one thread per element, all at once
        y:  [ -0.4 | 0.5 | -0.2 | 3.0 ]

        _my_kernel = cp.ElementwiseKernel(
            "T x, T slope",            # inputs: an array, and a scalar of the same type T
            "T y",                     # output: allocated for you, same shape as x
            "y = ...",                 # the body: what one thread does for its element
            "katas_my_kernel")         # a name, for error messages and the compile cache

    Define the kernel once, at module level, and call it here.

    Args:
        x: a device array (float64).
        negative_slope: the slope for negative inputs.

    Returns:
        A device array of the same shape. ``x`` is left unchanged.
    """
    # TODO: kata gpu.leaky_relu
    raise NotImplementedError("kata gpu.leaky_relu")


def relu(x):
    """ReLU with a ``cp.RawKernel``: one thread per element, and the bounds guard.

    A RawKernel is CUDA C that you launch yourself: ``kernel(grid, block,
    args)``. With ``n = 10`` elements and blocks of 4 threads you need
    ``ceil(10 / 4) = 3`` blocks, 12 threads; two of them have nothing to do::

        i:    0 1 2 3 | 4 5 6 7 | 8 9 10 11
        x:    a b c d | e f g h | i j  -  -     threads 10 and 11 must not touch x or y
                                                  (the guard: if (i < n))

    The kernel::

        extern "C" __global__ void katas_relu(const double* x, double* y, int n) {
            int i = blockIdx.x * blockDim.x + threadIdx.x;
            ...
        }

    and the launch: ``kernel((blocks,), (threads,), (x, y, cp.int32(n)))``,
    ``blocks = (n + threads - 1) // threads``. Allocate ``y`` with
    ``cp.empty_like(x)``. x may have any shape: n is ``x.size``.

    Returns:
        ``max(x, 0)``, a device array shaped like x.
    """
    # TODO: kata gpu.relu
    raise NotImplementedError("kata gpu.relu")


def add_bias(x, bias):
    """``x + bias`` for x (batch, units) and bias (units,), on a 2-D grid.

    A block may be 2-D: ``block=(16, 16)`` is 256 threads with ``threadIdx.x``
    and ``threadIdx.y``. CuPy's tuples are (x, y): x first. Let x run along a
    row (the unit: contiguous in memory) and y down the batch::

                      col = blockIdx.x * 16 + threadIdx.x  ->
                      0   1   2   3  ...
        row  0     [  x00 x01 x02 x03 ... ]  + bias[col]
        (y)  1     [  x10 x11 x12 x13 ... ]
         |   2     [  ...                 ]
         v

        element (row, col) of a C-contiguous (batch, units) array is x[row * units + col]

    ``grid = (ceil(units / 16), ceil(batch / 16))``; guard both coordinates.

    Args:
        x: device array ``(batch, units)``.
        bias: device array ``(units,)``.

    Returns:
        ``(batch, units)``, as ``tf.nn.bias_add(x, bias)``.
    """
    # TODO: kata gpu.add_bias
    raise NotImplementedError("kata gpu.add_bias")


def sigmoid(x, blocks=4, threads=64):
    """A stable sigmoid, correct for ANY grid: the grid-stride loop.

    Here the grid is given: launch exactly ``(blocks,)`` blocks of
    ``(threads,)`` threads, however big x is. Each thread starts at its own
    ``i`` and strides by the size of the whole grid::

        2 blocks x 4 threads = 8 threads, n = 19
        thread (global) 0: x[0], x[8],  x[16]
        thread          1: x[1], x[9],  x[17]
        ...
        thread          7: x[7], x[15]          (x[23] does not exist: the loop stops)

        for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)

    Stable: with ``z = exp(-|v|)``, ``sigmoid(v) = 1 / (1 + z)`` for v >= 0
    and ``z / (1 + z)`` below, so exp never overflows (sigmoid(-1000) = 0).

    Returns:
        ``1 / (1 + exp(-x))``, a device array shaped like x.
    """
    # TODO: kata gpu.sigmoid
    raise NotImplementedError("kata gpu.sigmoid")


def row_sums(x):
    """The sum of each row of x (rows, cols): a block reduction in shared memory.

    One block per row. Each thread first sums a strided slice of its row
    (``j = t, t + blockDim.x, ...``), writes that partial sum to shared
    memory, and then the block halves the partial sums, level by level::

        partial:  [ 3 | 1 | 4 | 1 | 5 | 9 | 2 | 6 ]    8 threads
        stride 4:   3+5 1+9 4+2 1+6                    threads 0..3 add partial[t + 4]
                  [ 8 |10 | 6 | 7 ]
        stride 2: [14 |17 ]
        stride 1: [31 ]                                 thread 0 writes out[row] = 31

    Between the levels every thread must wait until the others have written:
    ``__syncthreads()``, once after filling ``partial`` and once per level.
    Shared memory for ``extern __shared__ double partial[];`` is given at the
    launch, in bytes: ``kernel(grid, block, args, shared_mem=threads * 8)``.
    Use a power of two for the block (128).

    Args:
        x: device array ``(rows, cols)``.

    Returns:
        ``(rows,)``, as ``tf.reduce_sum(x, axis=1)``.
    """
    # TODO: kata gpu.row_sums
    raise NotImplementedError("kata gpu.row_sums")


def warp_row_sums(x):
    """The sum of each row of x (rows, cols) with warp shuffles: one shared slot per warp.

    The threads of a block run in *warps* of 32 (lanes 0..31). Inside a warp,
    ``__shfl_down_sync(mask, v, offset)`` hands each lane the ``v`` of the lane
    ``offset`` above it, register to register, no shared memory, no barrier::

        offset 16:  lane 0 += lane 16, lane 1 += lane 17, ...   (lanes 16..31 keep their own)
        offset  8:  lane 0 += lane 8, ...
        offset 4, 2, 1:  after 5 steps lane 0 holds the sum of all 32

    ``mask`` names the lanes taking part: ``0xffffffff``, the whole warp, and
    every lane of the mask must make the call (never inside ``if (lane < ...)``).

    One block per row (256 threads = 8 warps). Each thread sums a strided
    slice of its row; each warp reduces its 32 values with shuffles; lane 0 of
    each warp writes its warp's total to ``__shared__ double per_warp[32]``;
    ``__syncthreads()``; then warp 0 reduces the 8 slots with shuffles again
    (lanes past the last warp take 0.0) and lane 0 writes ``out[row]``.

    Args:
        x: device array ``(rows, cols)``.

    Returns:
        ``(rows,)``, as ``tf.reduce_sum(x, axis=1)``.
    """
    # TODO: kata gpu.warp_row_sums
    raise NotImplementedError("kata gpu.warp_row_sums")


def softmax(x):
    """Softmax over each row of x (rows, cols), stable: two block reductions.

        y[r, j] = exp(x[r, j] - m) / sum_k exp(x[r, k] - m),   m = max_k x[r, k]

    One block per row, three walks along it::

        row:    [ 2.0  1.0  0.1 ]
        1. max  -> m = 2.0          (a block reduction with fmax)
        2. sum of exp(x - m)        (a block reduction with +)  = 1 + 0.368 + 0.165
        3. y = exp(x - m) / sum  -> [ 0.659  0.242  0.099 ]

    Every thread needs m and the sum, not only thread 0: after the tree, read
    ``partial[0]`` into a local, then ``__syncthreads()`` once more before the
    shared array is reused. A ``__device__`` helper written once serves both
    reductions. Shared arrays need a constant size: ``#define`` the block size
    and use the same number in Python.

    Args:
        x: device array ``(rows, cols)``.

    Returns:
        ``(rows, cols)``, as ``tf.nn.softmax(x, axis=-1)``; each row sums to 1.
    """
    # TODO: kata gpu.softmax
    raise NotImplementedError("kata gpu.softmax")


def dense_forward(x, kernel, bias):
    """``x @ kernel + bias`` with a tiled matrix product in shared memory.

    One thread per output element (row, col), in 16x16 blocks. Read naively,
    each thread reads a whole row of x and a whole column of kernel from
    global memory, so each element of x is read ``units`` times. Tiled, the
    256 threads of a block load one 16x16 tile of x and one of kernel into
    shared memory, each thread ONE element of each, then all multiply from
    shared memory::

              kernel (inputs, units)
                       [ k_tile ]   <- start .. start+15 rows, this block's 16 columns
        x (batch, inputs)
        [ x_tile ]  ->  acc[ty][tx] += x_tile[ty][m] * k_tile[m][tx],  m = 0..15
        this block's 16 rows, columns start .. start+15

        for start = 0, 16, 32, ... < inputs:
            load both tiles (0.0 where the index is outside the matrix)
            __syncthreads()        # the tiles are complete
            multiply-accumulate
            __syncthreads()        # nobody still reads them when the next load comes

    Shapes in Keras's words: x ``(batch, input_dim)``, kernel ``(input_dim,
    units)``, bias ``(units,)``.

    Returns:
        ``(batch, units)``, as a Keras ``Dense(units)`` with these weights.
    """
    # TODO: kata gpu.dense_forward
    raise NotImplementedError("kata gpu.dense_forward")


def transpose(x):
    """``x.T`` for x (rows, cols), through a shared-memory tile: coalesced reads AND writes.

    A warp's 32 threads read memory fastest when they touch 32 neighbouring
    elements (*coalesced*). A naive transpose reads a row of x (neighbours)
    but writes a column of y (elements ``rows`` apart). The tile fixes that:
    a block of (32, 8) threads copies a 32x32 tile of x into shared memory,
    row by row (coalesced reads), waits, and writes the tile's columns as rows
    of y (coalesced writes)::

        x (rows, cols)          tile[32][33]            y (cols, rows)
        block (bx, by) reads    tile[k][tx] = x[by+k][bx+tx]   then y[bx+k][by+tx] = tile[tx][k]

    Each thread moves 4 elements (``k = ty, ty + 8, ty + 16, ty + 24``). The
    tile is ``[32][33]``, not ``[32][32]``: reading a column of a 32-wide tile
    would hit one shared-memory bank 32 times; the padding column spreads it
    over all 32 banks. Guard every load and store (``rows``, ``cols`` are any
    size), and ``__syncthreads()`` between the loads and the stores.
    grid = ``((cols + 31) // 32, (rows + 31) // 32)``, block = ``(32, 8)``.

    Returns:
        A device array ``(cols, rows)``, as ``tf.transpose(x)``.
    """
    # TODO: kata gpu.transpose
    raise NotImplementedError("kata gpu.transpose")


def conv2d(x, kernel, bias):
    """Conv2D, valid padding, stride 1, one thread per output element.

    Channels last, as Keras: x ``(batch, height, width, in_ch)``, kernel
    ``(kh, kw, in_ch, out_ch)``, output ``(batch, out_h, out_w, out_ch)`` with
    ``out_h = height - kh + 1``, ``out_w = width - kw + 1``::

        thread i  ->  (b, oy, ox, o)        i = ((b * out_h + oy) * out_w + ox) * out_ch + o

        x[b]:  . . . . .          y[b, oy, ox, o] = bias[o]
               . [# #]. .           + sum over dy < kh, dx < kw, c < in_ch of
               . [# #]. .               x[b, oy + dy, ox + dx, c] * kernel[dy, dx, c, o]
               . . . . .

    Flat indices of C-contiguous arrays: ``x[((b * height + y) * width + x) * in_ch + c]``,
    ``kernel[((dy * kw + dx) * in_ch + c) * out_ch + o]``.

    Returns:
        ``(batch, out_h, out_w, out_ch)``, as ``tf.nn.conv2d(x, kernel, 1, "VALID") + bias``.
    """
    # TODO: kata gpu.conv2d
    raise NotImplementedError("kata gpu.conv2d")


def lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias):
    """One LSTM step, the gates fused into one kernel. Returns ``(h_new, c_new)``.

    Keras's layout: kernel ``(input_dim, 4 * units)``, recurrent_kernel
    ``(units, 4 * units)``, bias ``(4 * units,)``, gates in the order i, f, c, o.
    The two matrix products are CuPy's (cuBLAS on a GPU)::

        z = x_t @ kernel + h @ recurrent_kernel          (batch, 4 * units)

        z[b]:  [ i_0 .. i_{u-1} | f_0 .. | g_0 .. | o_0 .. ]   (+ bias, same layout)
                 sigmoid          sigmoid  tanh     sigmoid

        thread (b, j):  c_new[b, j] = f * c[b, j] + i * g
                        h_new[b, j] = o * tanh(c_new[b, j])

    One kernel reads z, bias and c once and writes both outputs: four
    element-wise kernels would read and write everything four times.

    Args:
        x_t: ``(batch, input_dim)``; h, c: ``(batch, units)``; device arrays.

    Returns:
        ``(h_new, c_new)``, each ``(batch, units)``, as a Keras ``LSTMCell``.
    """
    # TODO: kata gpu.lstm_cell
    raise NotImplementedError("kata gpu.lstm_cell")
