"""Wrong and right ways to write katas/gpu.py.

Every variant runs where the track runs: on a CUDA device through CuPy, or
on the CPU emulator, which is what catches the indexing, race and barrier
mistakes here with a named message. Kernels are defined inside the
functions so that each variant carries its own (compiled once per source).
"""

from mutation import alternative, mutant

from dojo.gpu import cp

# ---------------------------------------------------------------- gpu.leaky_relu


@mutant("gpu.leaky_relu", expect="positive side")
def leaky_relu_slope_on_the_wrong_side(x, negative_slope=0.2):
    kernel = cp.ElementwiseKernel("T x, T slope", "T y", "y = x >= 0 ? slope * x : x", "katas_mutant_wrong_side")
    return kernel(x, x.dtype.type(negative_slope))


@mutant("gpu.leaky_relu", expect="default negative_slope is 0.2")
def leaky_relu_with_the_pytorch_default(x, negative_slope=0.01):
    return _leaky_relu_kernel(x, x.dtype.type(negative_slope))


@mutant("gpu.leaky_relu", expect="stays on the GPU")
def leaky_relu_copied_to_the_host(x, negative_slope=0.2):
    return cp.asnumpy(_leaky_relu_kernel(x, x.dtype.type(negative_slope)))


@mutant("gpu.leaky_relu", expect="in place")
def leaky_relu_in_place(x, negative_slope=0.2):
    kernel = cp.ElementwiseKernel("T slope", "T x", "x = x >= 0 ? x : slope * x", "katas_mutant_in_place")
    kernel(x.dtype.type(negative_slope), x)
    return x


@alternative("gpu.leaky_relu")
def leaky_relu_with_max_and_min(x, negative_slope=0.2):
    kernel = cp.ElementwiseKernel(
        "T x, T slope", "T y", "y = max(x, T(0)) + slope * min(x, T(0))", "katas_alternative_max_min"
    )
    return kernel(x, x.dtype.type(negative_slope))


# ---------------------------------------------------------------- gpu.relu


@mutant("gpu.relu", expect="(?s)out of bounds.*bounds guard")
def relu_without_the_guard(x):
    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void katas_relu_no_guard(const double* x, double* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    y[i] = x[i] > 0.0 ? x[i] : 0.0;
}
""",
        "katas_relu_no_guard",
    )
    y = cp.empty_like(x)
    kernel(((x.size + 127) // 128,), (128,), (x, y, cp.int32(x.size)))
    return y


@mutant("gpu.relu", expect=r"(?s)x\[1\], but x has 1 elements.*not i <= n")
def relu_with_an_off_by_one_guard(x):
    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void katas_relu_off_by_one(const double* x, double* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) y[i] = x[i] > 0.0 ? x[i] : 0.0;
}
""",
        "katas_relu_off_by_one",
    )
    y = cp.empty_like(x)
    kernel(((x.size + 127) // 128,), (128,), (x, y, cp.int32(x.size)))
    return y


@mutant("gpu.relu", expect="ceiling division")
def relu_with_a_grid_too_small(x):
    y = cp.empty_like(x)
    _relu_kernel((max(1, x.size // RELU_THREADS),), (RELU_THREADS,), (x, y, cp.int32(x.size)))
    return y


@mutant("gpu.relu", expect="np.int32")
def relu_with_a_python_int_size(x):
    y = cp.empty_like(x)
    _relu_kernel(((x.size + 127) // 128,), (128,), (x, y, x.size))
    return y


@alternative("gpu.relu")
def relu_with_a_grid_stride_loop(x):
    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void katas_relu_stride(const double* x, double* y, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        double v = x[i];
        y[i] = v > 0.0 ? v : 0.0;
    }
}
""",
        "katas_relu_stride",
    )
    y = cp.empty_like(x)
    kernel((2,), (256,), (x, y, cp.int32(x.size)))
    return y


# ---------------------------------------------------------------- gpu.add_bias


@mutant("gpu.add_bias", expect="row and column")
def add_bias_with_row_and_column_swapped(x, bias):
    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void katas_add_bias_swapped(const double* x, const double* bias, double* y,
                                                  int batch, int units) {
    int row = blockIdx.x * blockDim.x + threadIdx.x;
    int col = blockIdx.y * blockDim.y + threadIdx.y;
    if (row < batch && col < units) y[row * units + col] = x[row * units + col] + bias[col];
}
""",
        "katas_add_bias_swapped",
    )
    batch, units = x.shape
    y = cp.empty_like(x)
    kernel(((units + 15) // 16, (batch + 15) // 16), (16, 16), (x, bias, y, cp.int32(batch), cp.int32(units)))
    return y


@mutant("gpu.add_bias", expect="(?s)out of bounds.*row and column")
def add_bias_indexed_column_major(x, bias):
    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void katas_add_bias_column_major(const double* x, const double* bias, double* y,
                                                       int batch, int units) {
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    int row = blockIdx.y * blockDim.y + threadIdx.y;
    if (row < batch && col < units) y[col * units + row] = x[col * units + row] + bias[col];
}
""",
        "katas_add_bias_column_major",
    )
    batch, units = x.shape
    y = cp.empty_like(x)
    kernel(((units + 15) // 16, (batch + 15) // 16), (16, 16), (x, bias, y, cp.int32(batch), cp.int32(units)))
    return y


@alternative("gpu.add_bias")
def add_bias_with_a_flat_grid(x, bias):
    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void katas_add_bias_flat(const double* x, const double* bias, double* y, int n, int units) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i] + bias[i % units];
}
""",
        "katas_add_bias_flat",
    )
    y = cp.empty_like(x)
    kernel(((x.size + 63) // 64,), (64,), (x, bias, y, cp.int32(x.size), cp.int32(x.shape[1])))
    return y


@alternative("gpu.add_bias")
def add_bias_with_wide_blocks(x, bias):
    batch, units = x.shape
    y = cp.empty_like(x)
    _add_bias_kernel(
        ((units + 31) // 32, (batch + 7) // 8),
        (32, 8),
        (x, bias, y, cp.int32(batch), cp.int32(units)),
    )
    return y


# ---------------------------------------------------------------- gpu.sigmoid


@mutant("gpu.sigmoid", expect="(?s)never written.*grid-stride loop")
def sigmoid_without_the_loop(x, blocks=4, threads=64):
    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void katas_sigmoid_once(const double* x, double* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        double z = exp(-fabs(x[i]));
        y[i] = x[i] >= 0.0 ? 1.0 / (1.0 + z) : z / (1.0 + z);
    }
}
""",
        "katas_sigmoid_once",
    )
    y = cp.empty_like(x)
    kernel((blocks,), (threads,), (x, y, cp.int32(x.size)))
    return y


@mutant("gpu.sigmoid", expect=r"(?s)data race on y.*blockDim.x \* gridDim.x")
def sigmoid_striding_by_one_block(x, blocks=4, threads=64):
    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void katas_sigmoid_block_stride(const double* x, double* y, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x) {
        double z = exp(-fabs(x[i]));
        y[i] = x[i] >= 0.0 ? 1.0 / (1.0 + z) : z / (1.0 + z);
    }
}
""",
        "katas_sigmoid_block_stride",
    )
    y = cp.empty_like(x)
    kernel((blocks,), (threads,), (x, y, cp.int32(x.size)))
    return y


@mutant("gpu.sigmoid", expect="NaN|overflow")
def sigmoid_unstable(x, blocks=4, threads=64):
    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void katas_sigmoid_unstable(const double* x, double* y, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        double e = exp(x[i]);
        y[i] = e / (1.0 + e);
    }
}
""",
        "katas_sigmoid_unstable",
    )
    y = cp.empty_like(x)
    kernel((blocks,), (threads,), (x, y, cp.int32(x.size)))
    return y


@alternative("gpu.sigmoid")
def sigmoid_with_a_while_loop(x, blocks=4, threads=64):
    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void katas_sigmoid_while(const double* x, double* y, int n) {
    int stride = blockDim.x * gridDim.x;
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    while (i < n) {
        double v = x[i];
        y[i] = v >= 0.0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v));
        i += stride;
    }
}
""",
        "katas_sigmoid_while",
    )
    y = cp.empty_like(x)
    kernel((blocks,), (threads,), (x, y, cp.int32(x.size)))
    return y


# ---------------------------------------------------------------- gpu.row_sums


@mutant("gpu.row_sums", expect=r"__syncthreads\(\) is missing")
def row_sums_without_the_first_barrier(x):
    template = r"""
extern "C" __global__ void NAME(const double* x, double* out, int rows, int cols) {
    extern __shared__ double partial[];
    int row = blockIdx.x;
    int t = threadIdx.x;
    double sum = 0.0;
    for (int j = t; j < cols; j += blockDim.x) sum += x[row * cols + j];
    partial[t] = sum;
    FIRST_SYNC
    for (int stride = FIRST_STRIDE; stride > 0; stride /= 2) {
        if (t < stride) partial[t] += partial[t + stride];
        __syncthreads();
    }
    if (t == 0) out[row] = partial[0];
}
"""
    code = (
        template.replace("NAME", "katas_sums_no_sync")
        .replace("FIRST_SYNC", "")
        .replace("FIRST_STRIDE", "blockDim.x / 2")
    )
    rows, cols = x.shape
    out = cp.empty((rows,), dtype=x.dtype)
    cp.RawKernel(code, "katas_sums_no_sync")(
        (rows,), (128,), (x, out, cp.int32(rows), cp.int32(cols)), shared_mem=128 * 8
    )
    return out


@mutant("gpu.row_sums", expect="first stride is blockDim.x / 2")
def row_sums_with_the_wrong_first_stride(x):
    template = r"""
extern "C" __global__ void NAME(const double* x, double* out, int rows, int cols) {
    extern __shared__ double partial[];
    int row = blockIdx.x;
    int t = threadIdx.x;
    double sum = 0.0;
    for (int j = t; j < cols; j += blockDim.x) sum += x[row * cols + j];
    partial[t] = sum;
    FIRST_SYNC
    for (int stride = FIRST_STRIDE; stride > 0; stride /= 2) {
        if (t < stride) partial[t] += partial[t + stride];
        __syncthreads();
    }
    if (t == 0) out[row] = partial[0];
}
"""
    code = (
        template.replace("NAME", "katas_sums_stride")
        .replace("FIRST_SYNC", "__syncthreads();")
        .replace("FIRST_STRIDE", "blockDim.x")
    )
    rows, cols = x.shape
    out = cp.empty((rows,), dtype=x.dtype)
    cp.RawKernel(code, "katas_sums_stride")(
        (rows,), (128,), (x, out, cp.int32(rows), cp.int32(cols)), shared_mem=128 * 8
    )
    return out


@mutant("gpu.row_sums", expect="shared_mem is in bytes")
def row_sums_with_too_little_shared_memory(x):
    rows, cols = x.shape
    out = cp.empty((rows,), dtype=x.dtype)
    _row_sums_kernel(
        (rows,),
        (SUM_THREADS,),
        (x, out, cp.int32(rows), cp.int32(cols)),
        shared_mem=SUM_THREADS,
    )
    return out


@mutant("gpu.row_sums", expect="(?s)data race on out.*atomicAdd")
def row_sums_adding_into_the_output(x):
    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void katas_sums_race(const double* x, double* out, int rows, int cols) {
    int row = blockIdx.x;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) out[row] += x[row * cols + j];
}
""",
        "katas_sums_race",
    )
    rows, cols = x.shape
    out = cp.zeros((rows,), dtype=x.dtype)
    kernel((rows,), (128,), (x, out, cp.int32(rows), cp.int32(cols)))
    return out


@alternative("gpu.row_sums")
def row_sums_with_atomics(x):
    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void katas_sums_atomic(const double* x, double* out, int rows, int cols) {
    int row = blockIdx.x;
    double sum = 0.0;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) sum += x[row * cols + j];
    atomicAdd(&out[row], sum);
}
""",
        "katas_sums_atomic",
    )
    rows, cols = x.shape
    out = cp.zeros((rows,), dtype=x.dtype)
    kernel((rows,), (64,), (x, out, cp.int32(rows), cp.int32(cols)))
    return out


@alternative("gpu.row_sums")
def row_sums_with_a_reduction_kernel(x):
    kernel = cp.ReductionKernel("T x", "T y", "x", "a + b", "y = a", "0", "katas_sums_reduction")
    return kernel(x, axis=1)


@alternative("gpu.row_sums")
def row_sums_with_static_shared_memory(x):
    kernel = cp.RawKernel(
        r"""
#define THREADS 256
extern "C" __global__ void katas_sums_static(const double* x, double* out, int rows, int cols) {
    __shared__ double partial[THREADS];
    int t = threadIdx.x;
    double sum = 0.0;
    for (int j = t; j < cols; j += THREADS) sum += x[blockIdx.x * cols + j];
    partial[t] = sum;
    __syncthreads();
    for (int stride = THREADS / 2; stride > 0; stride >>= 1) {
        if (t < stride) partial[t] = partial[t] + partial[t + stride];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = partial[0];
}
""",
        "katas_sums_static",
    )
    rows, cols = x.shape
    out = cp.empty((rows,), dtype=x.dtype)
    kernel((rows,), (256,), (x, out, cp.int32(rows), cp.int32(cols)))
    return out


# ---------------------------------------------------------------- gpu.softmax


@mutant("gpu.softmax", expect="NaN|inf|overflow|stable")
def softmax_without_the_max(x):
    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void katas_softmax_unstable(const double* x, double* y, int rows, int cols) {
    __shared__ double partial[128];
    int t = threadIdx.x, row = blockIdx.x;
    double sum = 0.0;
    for (int j = t; j < cols; j += blockDim.x) sum += exp(x[row * cols + j]);
    partial[t] = sum;
    __syncthreads();
    for (int s = 64; s > 0; s /= 2) { if (t < s) partial[t] += partial[t + s]; __syncthreads(); }
    double total = partial[0];
    for (int j = t; j < cols; j += blockDim.x) y[row * cols + j] = exp(x[row * cols + j]) / total;
}
""",
        "katas_softmax_unstable",
    )
    rows, cols = x.shape
    y = cp.empty_like(x)
    kernel((rows,), (128,), (x, y, cp.int32(rows), cp.int32(cols)))
    return y


@mutant("gpu.softmax", expect=r"(?s)data race on shared partial.*__syncthreads")
def softmax_reusing_shared_memory_without_a_barrier(x):
    code = _softmax_kernel.code.replace(
        "    double result = partial[0];\n    __syncthreads();", "    double result = partial[0];"
    )
    rows, cols = x.shape
    y = cp.empty_like(x)
    cp.RawKernel(code, "katas_softmax")((rows,), (128,), (x, y, cp.int32(rows), cp.int32(cols)))
    return y


@alternative("gpu.softmax")
def softmax_online_in_two_passes(x):
    # One pass keeps a running max m and a running sum s of exp(x - m), rescaling s when m grows;
    # each thread's (m, s) pair is then merged across the block. Reads x twice, not three times.
    kernel = cp.RawKernel(
        r"""
#define THREADS 64
extern "C" __global__ void katas_softmax_online(const double* x, double* y, int rows, int cols) {
    __shared__ double maxima[THREADS];
    __shared__ double sums[THREADS];
    int t = threadIdx.x, row = blockIdx.x;
    double m = -1.0e300, s = 0.0;
    for (int j = t; j < cols; j += THREADS) {
        double v = x[row * cols + j];
        if (v > m) { s = s * exp(m - v); m = v; }
        s += exp(v - m);
    }
    maxima[t] = m; sums[t] = s;
    __syncthreads();
    for (int stride = THREADS / 2; stride > 0; stride /= 2) {
        if (t < stride) {
            double m2 = maxima[t + stride], s2 = sums[t + stride];
            double mm = fmax(maxima[t], m2);
            sums[t] = sums[t] * exp(maxima[t] - mm) + s2 * exp(m2 - mm);
            maxima[t] = mm;
        }
        __syncthreads();
    }
    double row_max = maxima[0], row_sum = sums[0];
    for (int j = t; j < cols; j += THREADS) y[row * cols + j] = exp(x[row * cols + j] - row_max) / row_sum;
}
""",
        "katas_softmax_online",
    )
    rows, cols = x.shape
    y = cp.empty_like(x)
    kernel((rows,), (64,), (x, y, cp.int32(rows), cp.int32(cols)))
    return y


# ---------------------------------------------------------------- gpu.dense_forward


@mutant("gpu.dense_forward", expect=r"(?s)data race on shared.*complete")
def dense_forward_without_the_second_barrier(x, kernel, bias):
    code = _dense_kernel.code.replace(
        "        __syncthreads();                             // everyone is done", "        // (no barrier)"
    )
    batch, inputs = x.shape
    units = kernel.shape[1]
    y = cp.empty((batch, units), dtype=x.dtype)
    cp.RawKernel(code, "katas_dense")(
        ((units + 15) // 16, (batch + 15) // 16),
        (16, 16),
        (x, kernel, bias, y, cp.int32(batch), cp.int32(inputs), cp.int32(units)),
    )
    return y


@mutant("gpu.dense_forward", expect="(?s)out of bounds.*own guard")
def dense_forward_with_unguarded_tile_loads(x, kernel, bias):
    code = _dense_kernel.code.replace(
        "(row < batch && k < inputs) ? x[row * inputs + k] : 0.0", "x[row * inputs + k]"
    ).replace("(k < inputs && col < units) ? kernel[k * units + col] : 0.0", "kernel[k * units + col]")
    batch, inputs = x.shape
    units = kernel.shape[1]
    y = cp.empty((batch, units), dtype=x.dtype)
    cp.RawKernel(code, "katas_dense")(
        ((units + 15) // 16, (batch + 15) // 16),
        (16, 16),
        (x, kernel, bias, y, cp.int32(batch), cp.int32(inputs), cp.int32(units)),
    )
    return y


@mutant("gpu.dense_forward", expect="bias is missing")
def dense_forward_without_bias(x, kernel, bias):
    batch, inputs = x.shape
    units = kernel.shape[1]
    y = cp.empty((batch, units), dtype=x.dtype)
    _dense_kernel(
        ((units + 15) // 16, (batch + 15) // 16),
        (16, 16),
        (x, kernel, cp.zeros_like(bias), y, cp.int32(batch), cp.int32(inputs), cp.int32(units)),
    )
    return y


@alternative("gpu.dense_forward")
def dense_forward_naive(x, kernel, bias):
    # Correct, without tiles: every thread reads a row of x and a column of kernel from global memory.
    code = r"""
extern "C" __global__ void katas_dense_naive(const double* x, const double* kernel, const double* bias,
                                             double* y, int batch, int inputs, int units) {
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    int row = blockIdx.y * blockDim.y + threadIdx.y;
    if (row >= batch || col >= units) return;
    double acc = bias[col];
    for (int k = 0; k < inputs; ++k) acc += x[row * inputs + k] * kernel[k * units + col];
    y[row * units + col] = acc;
}
"""
    batch, inputs = x.shape
    units = kernel.shape[1]
    y = cp.empty((batch, units), dtype=x.dtype)
    cp.RawKernel(code, "katas_dense_naive")(
        ((units + 7) // 8, (batch + 7) // 8),
        (8, 8),
        (x, kernel, bias, y, cp.int32(batch), cp.int32(inputs), cp.int32(units)),
    )
    return y


# ---------------------------------------------------------------- gpu.conv2d


@mutant("gpu.conv2d", expect="bias is missing")
def conv2d_without_bias(x, kernel, bias):
    batch, height, width, in_ch = x.shape
    kh, kw, _, out_ch = kernel.shape
    out_h, out_w = height - kh + 1, width - kw + 1
    y = cp.empty((batch, out_h, out_w, out_ch), dtype=x.dtype)
    _conv_kernel(
        ((y.size + 127) // 128,),
        (128,),
        (
            x,
            kernel,
            cp.zeros_like(bias),
            y,
            *(cp.int32(v) for v in (batch, height, width, in_ch, kh, kw, out_ch, out_h, out_w)),
        ),
    )
    return y


@mutant("gpu.conv2d", expect="window axes are swapped")
def conv2d_with_the_window_axes_swapped(x, kernel, bias):
    code = _conv_kernel.code.replace(
        "kernel[((dy * kw + dx) * in_ch + c) * out_ch + o]",
        "kernel[((dx * kh + dy) * in_ch + c) * out_ch + o]",
    )
    batch, height, width, in_ch = x.shape
    kh, kw, _, out_ch = kernel.shape
    out_h, out_w = height - kh + 1, width - kw + 1
    y = cp.empty((batch, out_h, out_w, out_ch), dtype=x.dtype)
    cp.RawKernel(code, "katas_conv2d")(
        ((y.size + 127) // 128,),
        (128,),
        (x, kernel, bias, y, *(cp.int32(v) for v in (batch, height, width, in_ch, kh, kw, out_ch, out_h, out_w))),
    )
    return y


@mutant("gpu.conv2d", expect="out of bounds")
def conv2d_with_same_sized_output(x, kernel, bias):
    # out_h = height: the windows at the bottom and right edge read past the image
    batch, height, width, in_ch = x.shape
    kh, kw, _, out_ch = kernel.shape
    y = cp.empty((batch, height, width, out_ch), dtype=x.dtype)
    _conv_kernel(
        ((y.size + 127) // 128,),
        (128,),
        (x, kernel, bias, y, *(cp.int32(v) for v in (batch, height, width, in_ch, kh, kw, out_ch, height, width))),
    )
    return y[:, : height - kh + 1, : width - kw + 1].copy()


@alternative("gpu.conv2d")
def conv2d_with_a_2d_grid(x, kernel, bias):
    code = r"""
extern "C" __global__ void katas_conv2d_2d(const double* x, const double* kernel, const double* bias, double* y,
                                           int batch, int height, int width, int in_ch,
                                           int kh, int kw, int out_ch, int out_h, int out_w) {
    int o = blockIdx.x * blockDim.x + threadIdx.x;          // output channel
    int p = blockIdx.y * blockDim.y + threadIdx.y;          // output position (b, oy, ox)
    if (o >= out_ch || p >= batch * out_h * out_w) return;
    int ox = p % out_w, oy = (p / out_w) % out_h, b = p / (out_w * out_h);
    double acc = 0.0;
    for (int dy = 0; dy < kh; ++dy)
        for (int dx = 0; dx < kw; ++dx)
            for (int c = 0; c < in_ch; ++c)
                acc += x[((b * height + oy + dy) * width + ox + dx) * in_ch + c]
                     * kernel[((dy * kw + dx) * in_ch + c) * out_ch + o];
    y[p * out_ch + o] = acc + bias[o];
}
"""
    batch, height, width, in_ch = x.shape
    kh, kw, _, out_ch = kernel.shape
    out_h, out_w = height - kh + 1, width - kw + 1
    y = cp.empty((batch, out_h, out_w, out_ch), dtype=x.dtype)
    positions = batch * out_h * out_w
    cp.RawKernel(code, "katas_conv2d_2d")(
        ((out_ch + 3) // 4, (positions + 31) // 32),
        (4, 32),
        (x, kernel, bias, y, *(cp.int32(v) for v in (batch, height, width, in_ch, kh, kw, out_ch, out_h, out_w))),
    )
    return y


# ---------------------------------------------------------------- gpu.lstm_cell


@mutant("gpu.lstm_cell", expect="gate order is i, f, c, o")
def lstm_cell_with_gates_i_f_o_c(x_t, h, c, kernel, recurrent_kernel, bias):
    code = _lstm_kernel.code.replace(
        "tanh(row[2 * units + j] + bias[2 * units + j])",
        "tanh(row[3 * units + j] + bias[3 * units + j])",
    ).replace("sigmoid(row[3 * units + j] + bias[3 * units + j])", "sigmoid(row[2 * units + j] + bias[2 * units + j])")
    batch, units = c.shape
    z = cp.ascontiguousarray(x_t @ kernel + h @ recurrent_kernel)
    h_new, c_new = cp.empty_like(c), cp.empty_like(c)
    cp.RawKernel(code, "katas_lstm_cell")(
        ((batch * units + 127) // 128,), (128,), (z, bias, c, h_new, c_new, cp.int32(batch), cp.int32(units))
    )
    return h_new, c_new


@mutant("gpu.lstm_cell", expect="bias is missing")
def lstm_cell_without_bias(x_t, h, c, kernel, recurrent_kernel, bias):
    batch, units = c.shape
    z = cp.ascontiguousarray(x_t @ kernel + h @ recurrent_kernel)
    h_new, c_new = cp.empty_like(c), cp.empty_like(c)
    _lstm_kernel(
        ((batch * units + 127) // 128,),
        (128,),
        (z, cp.zeros_like(bias), c, h_new, c_new, cp.int32(batch), cp.int32(units)),
    )
    return h_new, c_new


@alternative("gpu.lstm_cell")
def lstm_cell_with_a_2d_grid_and_separate_products(x_t, h, c, kernel, recurrent_kernel, bias):
    code = r"""
__device__ double logistic(double v) { return v >= 0.0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v)); }

extern "C" __global__ void katas_lstm_2d(const double* zx, const double* zh, const double* bias, const double* c,
                                         double* h_new, double* c_new, int batch, int units) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    int b = blockIdx.y;
    if (j >= units) return;
    int base = b * 4 * units + j;
    double gates[4];
    for (int k = 0; k < 4; ++k) gates[k] = zx[base + k * units] + zh[base + k * units] + bias[k * units + j];
    double cell = logistic(gates[1]) * c[b * units + j] + logistic(gates[0]) * tanh(gates[2]);
    c_new[b * units + j] = cell;
    h_new[b * units + j] = logistic(gates[3]) * tanh(cell);
}
"""
    batch, units = c.shape
    zx, zh = cp.ascontiguousarray(x_t @ kernel), cp.ascontiguousarray(h @ recurrent_kernel)
    h_new, c_new = cp.empty_like(c), cp.empty_like(c)
    cp.RawKernel(code, "katas_lstm_2d")(
        ((units + 31) // 32, batch), (32,), (zx, zh, bias, c, h_new, c_new, cp.int32(batch), cp.int32(units))
    )
    return h_new, c_new
