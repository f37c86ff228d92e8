"""GPU kernels: the answer key.

Every kernel is real CuPy code: on a CUDA machine ``cp`` is CuPy and these run
on the device; elsewhere ``cp`` is the CPU emulator (dojo/gpu/), which runs
the same CUDA C with real barriers and shared memory, bounds-checked.
Arrays are float64, so the kernels take ``double*``; sizes go in as
``int`` (``cp.int32(n)``).
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


# ------------------------------------------------------------------ leaky_relu

_leaky_relu_kernel = cp.ElementwiseKernel(
    "T x, T slope",
    "T y",
    "y = x >= 0 ? x : slope * x",
    "katas_leaky_relu",
)


def leaky_relu(x, negative_slope=0.2):
    """CuPy writes the loop; the body is one element's work. The slope goes in as x's own type."""
    return _leaky_relu_kernel(x, x.dtype.type(negative_slope))


# ------------------------------------------------------------------ relu

_relu_kernel = cp.RawKernel(
    r"""
extern "C" __global__ void katas_relu(const double* x, double* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;   // this thread's element
    if (i < n) {                                     // the last block sticks out past the end
        y[i] = x[i] > 0.0 ? x[i] : 0.0;
    }
}
""",
    "katas_relu",
)

RELU_THREADS = 128


def relu(x):
    """One thread per element: enough blocks to cover n (a ceiling division), a guard for the rest."""
    y = cp.empty_like(x)
    n = x.size
    blocks = (n + RELU_THREADS - 1) // RELU_THREADS
    _relu_kernel((blocks,), (RELU_THREADS,), (x, y, cp.int32(n)))
    return y


# ------------------------------------------------------------------ add_bias

_add_bias_kernel = cp.RawKernel(
    r"""
extern "C" __global__ void katas_add_bias(const double* x, const double* bias, double* y,
                                          int batch, int units) {
    int col = blockIdx.x * blockDim.x + threadIdx.x;   // x runs along a row: the unit
    int row = blockIdx.y * blockDim.y + threadIdx.y;   // y runs down the batch
    if (row < batch && col < units) {
        y[row * units + col] = x[row * units + col] + bias[col];
    }
}
""",
    "katas_add_bias",
)

TILE = 16


def add_bias(x, bias):
    """A 2-D grid of 16x16 blocks over (batch, units); dims are (x, y) = (columns, rows)."""
    batch, units = x.shape
    y = cp.empty_like(x)
    grid = ((units + TILE - 1) // TILE, (batch + TILE - 1) // TILE)
    _add_bias_kernel(grid, (TILE, TILE), (x, bias, y, cp.int32(batch), cp.int32(units)))
    return y


# ------------------------------------------------------------------ sigmoid (grid-stride)

_sigmoid_kernel = cp.RawKernel(
    r"""
extern "C" __global__ void katas_sigmoid(const double* x, double* y, int n) {
    // However many threads the grid has, together they walk the whole array.
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        double v = x[i];
        double z = exp(-fabs(v));                    // never overflows
        y[i] = v >= 0.0 ? 1.0 / (1.0 + z) : z / (1.0 + z);
    }
}
""",
    "katas_sigmoid",
)


def sigmoid(x, blocks=4, threads=64):
    """A fixed grid of ``blocks`` x ``threads``: the grid-stride loop covers any n."""
    y = cp.empty_like(x)
    _sigmoid_kernel((blocks,), (threads,), (x, y, cp.int32(x.size)))
    return y


# ------------------------------------------------------------------ row_sums

_row_sums_kernel = cp.RawKernel(
    r"""
extern "C" __global__ void katas_row_sums(const double* x, double* out, int rows, int cols) {
    extern __shared__ double partial[];              // blockDim.x doubles: shared_mem in the launch
    int row = blockIdx.x;                            // one block per row
    int t = threadIdx.x;
    double sum = 0.0;
    for (int j = t; j < cols; j += blockDim.x) {     // each thread sums a strided slice of the row
        sum += x[row * cols + j];
    }
    partial[t] = sum;
    __syncthreads();                                 // every partial sum is written before any is read
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        if (t < stride) {
            partial[t] += partial[t + stride];
        }
        __syncthreads();                             // this level is done before the next reads it
    }
    if (t == 0) {
        out[row] = partial[0];
    }
}
""",
    "katas_row_sums",
)

SUM_THREADS = 128  # a power of two: the tree halves it


def row_sums(x):
    """One block per row; dynamic shared memory of one double per thread."""
    rows, cols = x.shape
    out = cp.empty((rows,), dtype=x.dtype)
    _row_sums_kernel(
        (rows,), (SUM_THREADS,), (x, out, cp.int32(rows), cp.int32(cols)), shared_mem=SUM_THREADS * x.itemsize
    )
    return out


# ------------------------------------------------------------------ warp_row_sums (shuffles)

_warp_row_sums_kernel = cp.RawKernel(
    r"""
extern "C" __global__ void katas_warp_row_sums(const double* x, double* out, int rows, int cols) {
    __shared__ double per_warp[32];                  // one slot per warp (a block has at most 32 warps)
    int row = blockIdx.x;                            // one block per row
    int t = threadIdx.x, lane = t % 32, warp = t / 32;
    double sum = 0.0;
    for (int j = t; j < cols; j += blockDim.x) sum += x[row * cols + j];
    for (int offset = 16; offset > 0; offset /= 2) { // 32 values to lane 0 in 5 steps, register to register
        sum += __shfl_down_sync(0xffffffff, sum, offset);
    }
    if (lane == 0) per_warp[warp] = sum;
    __syncthreads();                                 // every warp's slot is written before warp 0 reads
    if (warp == 0) {                                 // the whole warp 0 takes part: the mask is full
        sum = lane < blockDim.x / 32 ? per_warp[lane] : 0.0;
        for (int offset = 16; offset > 0; offset /= 2) {
            sum += __shfl_down_sync(0xffffffff, sum, offset);
        }
        if (lane == 0) out[row] = sum;
    }
}
""",
    "katas_warp_row_sums",
)

WARP_SUM_THREADS = 256  # 8 warps; a multiple of 32, so every warp is whole


def warp_row_sums(x):
    """One block per row; warp shuffles, then one shared slot per warp."""
    rows, cols = x.shape
    out = cp.empty((rows,), dtype=x.dtype)
    _warp_row_sums_kernel((rows,), (WARP_SUM_THREADS,), (x, out, cp.int32(rows), cp.int32(cols)))
    return out


# ------------------------------------------------------------------ softmax

_softmax_kernel = cp.RawKernel(
    r"""
#define SOFTMAX_THREADS 128

// Every thread passes its value; every thread gets the block's max (op 0) or sum (op 1).
__device__ double block_reduce(double* partial, double value, int op) {
    int t = threadIdx.x;
    partial[t] = value;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        if (t < stride) {
            double other = partial[t + stride];
            partial[t] = op == 0 ? fmax(partial[t], other) : partial[t] + other;
        }
        __syncthreads();
    }
    double result = partial[0];
    __syncthreads();                                 // partial[] is reused by the next reduction
    return result;
}

extern "C" __global__ void katas_softmax(const double* x, double* y, int rows, int cols) {
    __shared__ double partial[SOFTMAX_THREADS];
    int row = blockIdx.x;
    int t = threadIdx.x;
    const double* in = x + row * cols;

    double local_max = __longlong_as_double(0xfff0000000000000LL);  // -infinity
    for (int j = t; j < cols; j += blockDim.x) local_max = fmax(local_max, in[j]);
    double row_max = block_reduce(partial, local_max, 0);

    double local_sum = 0.0;
    for (int j = t; j < cols; j += blockDim.x) local_sum += exp(in[j] - row_max);
    double row_sum = block_reduce(partial, local_sum, 1);

    for (int j = t; j < cols; j += blockDim.x) y[row * cols + j] = exp(in[j] - row_max) / row_sum;
}
""",
    "katas_softmax",
)

SOFTMAX_THREADS = 128  # must equal SOFTMAX_THREADS in the kernel: the shared array's size


def softmax(x):
    """One block per row: a max reduction, a sum reduction, then each thread writes its slice."""
    rows, cols = x.shape
    y = cp.empty_like(x)
    _softmax_kernel((rows,), (SOFTMAX_THREADS,), (x, y, cp.int32(rows), cp.int32(cols)))
    return y


# ------------------------------------------------------------------ dense_forward (tiled)

_dense_kernel = cp.RawKernel(
    r"""
#define TILE 16

extern "C" __global__ void katas_dense(const double* x, const double* kernel, const double* bias, double* y,
                                       int batch, int inputs, int units) {
    __shared__ double x_tile[TILE][TILE];
    __shared__ double k_tile[TILE][TILE];
    int tx = threadIdx.x, ty = threadIdx.y;
    int col = blockIdx.x * TILE + tx;                // the unit this thread computes
    int row = blockIdx.y * TILE + ty;                // the batch item
    double acc = 0.0;
    for (int start = 0; start < inputs; start += TILE) {
        // each thread loads one element of each tile (zero outside the matrices)
        int k = start + tx;
        x_tile[ty][tx] = (row < batch && k < inputs) ? x[row * inputs + k] : 0.0;
        k = start + ty;
        k_tile[ty][tx] = (k < inputs && col < units) ? kernel[k * units + col] : 0.0;
        __syncthreads();                             // the tiles are complete
        for (int m = 0; m < TILE; ++m) acc += x_tile[ty][m] * k_tile[m][tx];
        __syncthreads();                             // everyone is done before the next load overwrites them
    }
    if (row < batch && col < units) y[row * units + col] = acc + bias[col];
}
""",
    "katas_dense",
)


def dense_forward(x, kernel, bias):
    """``x @ kernel + bias`` with 16x16 tiles of x and kernel staged in shared memory."""
    batch, inputs = x.shape
    units = kernel.shape[1]
    y = cp.empty((batch, units), dtype=x.dtype)
    grid = ((units + TILE - 1) // TILE, (batch + TILE - 1) // TILE)
    _dense_kernel(grid, (TILE, TILE), (x, kernel, bias, y, cp.int32(batch), cp.int32(inputs), cp.int32(units)))
    return y


# ------------------------------------------------------------------ transpose (a shared tile)

_transpose_kernel = cp.RawKernel(
    r"""
#define TILE 32

extern "C" __global__ void katas_transpose(const double* x, double* y, int rows, int cols) {
    __shared__ double tile[TILE][TILE + 1];          // +1: a column of the tile spreads over all 32 banks
    int tx = threadIdx.x, ty = threadIdx.y;          // block (32, 8): each thread moves TILE / 8 elements
    int col0 = blockIdx.x * TILE, row0 = blockIdx.y * TILE;
    for (int k = ty; k < TILE; k += blockDim.y) {    // reads along rows of x: neighbouring tx, neighbours
        int r = row0 + k, c = col0 + tx;
        if (r < rows && c < cols) tile[k][tx] = x[r * cols + c];
    }
    __syncthreads();                                 // the whole tile is loaded before any column is read
    for (int k = ty; k < TILE; k += blockDim.y) {    // writes along rows of y (columns of the tile)
        int r = col0 + k, c = row0 + tx;             // y is (cols, rows)
        if (r < cols && c < rows) y[r * rows + c] = tile[tx][k];
    }
}
""",
    "katas_transpose",
)

TRANSPOSE_TILE, TRANSPOSE_ROWS = 32, 8


def transpose(x):
    """x.T: 32x32 tiles through shared memory, blocks of 32 x 8 threads."""
    rows, cols = x.shape
    y = cp.empty((cols, rows), dtype=x.dtype)
    grid = ((cols + TRANSPOSE_TILE - 1) // TRANSPOSE_TILE, (rows + TRANSPOSE_TILE - 1) // TRANSPOSE_TILE)
    _transpose_kernel(grid, (TRANSPOSE_TILE, TRANSPOSE_ROWS), (x, y, cp.int32(rows), cp.int32(cols)))
    return y


# ------------------------------------------------------------------ conv2d (direct)

_conv_kernel = cp.RawKernel(
    r"""
extern "C" __global__ void katas_conv2d(const double* x, const double* kernel, const double* bias, double* y,
                                        int batch, int height, int width, int in_ch,
                                        int kh, int kw, int out_ch, int out_h, int out_w) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;   // one output element, NHWC order
    int total = batch * out_h * out_w * out_ch;
    if (i >= total) return;
    int o = i % out_ch;
    int ox = (i / out_ch) % out_w;
    int oy = (i / (out_ch * out_w)) % out_h;
    int b = i / (out_ch * out_w * out_h);
    double acc = bias[o];
    for (int dy = 0; dy < kh; ++dy)
        for (int dx = 0; dx < kw; ++dx)
            for (int c = 0; c < in_ch; ++c)
                acc += x[((b * height + oy + dy) * width + ox + dx) * in_ch + c]
                     * kernel[((dy * kw + dx) * in_ch + c) * out_ch + o];
    y[i] = acc;
}
""",
    "katas_conv2d",
)

CONV_THREADS = 128


def conv2d(x, kernel, bias):
    """Valid padding, stride 1: one thread per output element walks its window."""
    batch, height, width, in_ch = x.shape
    kh, kw, _, out_ch = kernel.shape
    out_h, out_w = height - kh + 1, width - kw + 1
    y = cp.empty((batch, out_h, out_w, out_ch), dtype=x.dtype)
    total = y.size
    blocks = (total + CONV_THREADS - 1) // CONV_THREADS
    _conv_kernel(
        (blocks,),
        (CONV_THREADS,),
        (x, kernel, bias, y, *(cp.int32(v) for v in (batch, height, width, in_ch, kh, kw, out_ch, out_h, out_w))),
    )
    return y


# ------------------------------------------------------------------ lstm_cell (fused)

_lstm_kernel = cp.RawKernel(
    r"""
__device__ double sigmoid(double v) {
    double z = exp(-fabs(v));
    return v >= 0.0 ? 1.0 / (1.0 + z) : z / (1.0 + z);
}

extern "C" __global__ void katas_lstm_cell(const double* z, const double* bias, const double* c,
                                           double* h_new, double* c_new, int batch, int units) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;   // one (batch item, unit) pair
    if (i >= batch * units) return;
    int b = i / units, j = i % units;
    const double* row = z + b * 4 * units;           // gates i, f, c, o: blocks of `units` columns
    double input_gate = sigmoid(row[j] + bias[j]);
    double forget_gate = sigmoid(row[units + j] + bias[units + j]);
    double candidate = tanh(row[2 * units + j] + bias[2 * units + j]);
    double output_gate = sigmoid(row[3 * units + j] + bias[3 * units + j]);
    double cell = forget_gate * c[i] + input_gate * candidate;
    c_new[i] = cell;
    h_new[i] = output_gate * tanh(cell);
}
""",
    "katas_lstm_cell",
)


def lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias):
    """Two matrix products (cuBLAS on a GPU), then ONE fused kernel for the gates and the state."""
    batch, units = c.shape
    z = x_t @ kernel + h @ recurrent_kernel  # (batch, 4 * units)
    z = cp.ascontiguousarray(z)
    h_new, c_new = cp.empty_like(c), cp.empty_like(c)
    threads = 128
    blocks = (batch * units + threads - 1) // threads
    _lstm_kernel((blocks,), (threads,), (z, bias, c, h_new, c_new, cp.int32(batch), cp.int32(units)))
    return h_new, c_new
