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


@mutant("gpu.relu", expect=r"(?s)never written.*fuzzed launches: n=\d+ is the smallest of the \d+ sizes")
def relu_with_the_grid_capped_at_1024_blocks(x):
    # Right for every size the fixed tests use; a large array needs more blocks than the cap.
    y = cp.empty_like(x)
    blocks = min((x.size + RELU_THREADS - 1) // RELU_THREADS, 1024)
    _relu_kernel((blocks,), (RELU_THREADS,), (x, y, cp.int32(x.size)))
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


@mutant(
    "gpu.sigmoid",
    expect=r"(?s)shared stage\[256\], but stage has 256 elements.*fuzzed launches: n=1025, blocks=1, threads=1024 is the smallest",
)
def sigmoid_staged_in_a_tile_for_256_threads(x, blocks=4, threads=64):
    # A shared tile sized for the block sizes tried by hand: a block of 1024 threads runs past it.
    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void katas_sigmoid_staged(const double* x, double* y, int n) {
    __shared__ double stage[256];
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        stage[threadIdx.x] = x[i];
        double v = stage[threadIdx.x];
        double z = exp(-fabs(v));
        y[i] = v >= 0.0 ? 1.0 / (1.0 + z) : z / (1.0 + z);
    }
}
""",
        "katas_sigmoid_staged",
    )
    y = cp.empty_like(x)
    kernel((blocks,), (threads,), (x, y, cp.int32(x.size)))
    return y


@mutant("gpu.sigmoid", expect=r"agrees only to about \d+ digits \(float32's precision\).*exp not expf")
def sigmoid_in_float32_inside(x, blocks=4, threads=64):
    # Right formula, stable, but computed with expf and float intermediates: ~7 digits of a float64 kata.
    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void katas_sigmoid_float(const double* x, double* y, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        float v = x[i];
        float z = expf(-fabsf(v));
        y[i] = v >= 0.0f ? 1.0f / (1.0f + z) : z / (1.0f + z);
    }
}
""",
        "katas_sigmoid_float",
    )
    y = cp.empty_like(x)
    kernel((blocks,), (threads,), (x, y, cp.int32(x.size)))
    return y


@mutant("gpu.lstm_cell", expect=r"float32's precision")
def lstm_cell_with_float_gates(x_t, h, c, kernel, recurrent_kernel, bias):
    code = _lstm_kernel.code.replace("double input_gate", "float input_gate").replace("double cell", "float cell")
    batch, units = c.shape
    z = cp.ascontiguousarray(x_t @ kernel + h @ recurrent_kernel)
    h_new, c_new = cp.empty_like(c), cp.empty_like(c)
    blocks = (batch * units + 127) // 128
    cp.RawKernel(code, "katas_lstm_cell")(
        (blocks,), (128,), (z, bias, c, h_new, c_new, cp.int32(batch), cp.int32(units))
    )
    return h_new, c_new


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


@mutant(
    "gpu.row_sums",
    expect=r"(?s)data race on shared partial\[\d+\] \(a write after a read\): thread .* read it on line \d+, and "
    r"thread .* wrote it on line \d+.*__syncthreads\(\) is missing",
)
def row_sums_without_the_barrier_between_levels(x):
    # Thread 0 reads partial[32] for the next level while thread 32 still has to write it: a write after
    # a read in one barrier interval. Here thread 0 runs ahead, so the sum may even come out right.
    template = r"""
extern "C" __global__ void NAME(const double* x, double* out, int rows, int cols) {
    extern __shared__ double partial[];
    int row = blockIdx.x;
    int t = threadIdx.x;
    double sum = 0.0;
    for (int j = t; j < cols; j += blockDim.x) sum += x[row * cols + j];
    partial[t] = sum;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        LEVEL
    }
    if (t == 0) out[row] = partial[0];
}
"""
    code = template.replace("NAME", "katas_sums_no_level_sync").replace(
        "LEVEL", "if (t < stride) partial[t] += partial[t + stride];"
    )
    rows, cols = x.shape
    out = cp.empty((rows,), dtype=x.dtype)
    cp.RawKernel(code, "katas_sums_no_level_sync")(
        (rows,), (128,), (x, out, cp.int32(rows), cp.int32(cols)), shared_mem=128 * 8
    )
    return out


@mutant("gpu.row_sums", expect=r"(?s)divergent barrier in block .*inside `if \(t < stride\)` \(line \d+\)")
def row_sums_with_the_barrier_inside_the_if(x):
    template = r"""
extern "C" __global__ void NAME(const double* x, double* out, int rows, int cols) {
    extern __shared__ double partial[];
    int row = blockIdx.x;
    int t = threadIdx.x;
    double sum = 0.0;
    for (int j = t; j < cols; j += blockDim.x) sum += x[row * cols + j];
    partial[t] = sum;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        LEVEL
    }
    if (t == 0) out[row] = partial[0];
}
"""
    code = template.replace("NAME", "katas_sums_sync_in_if").replace(
        "LEVEL",
        "if (t < stride) {\n            partial[t] += partial[t + stride];\n            __syncthreads();\n        }",
    )
    rows, cols = x.shape
    out = cp.empty((rows,), dtype=x.dtype)
    cp.RawKernel(code, "katas_sums_sync_in_if")(
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


# ---------------------------------------------------------------- gpu.warp_row_sums


@mutant("gpu.warp_row_sums", expect=r"(?s)its own lane is not in the mask.*the mask is 0xffffffff")
def warp_row_sums_with_a_half_warp_mask(x):
    code = _warp_row_sums_kernel.code.replace("__shfl_down_sync(0xffffffff", "__shfl_down_sync(0x0000ffff")
    rows, cols = x.shape
    out = cp.empty((rows,), dtype=x.dtype)
    cp.RawKernel(code, "katas_warp_row_sums")((rows,), (256,), (x, out, cp.int32(rows), cp.int32(cols)))
    return out


@mutant("gpu.warp_row_sums", expect=r"(?s)lane \d+ of its mask has exited.*outside `if \(lane < \.\.\.\)`")
def warp_row_sums_shuffling_only_the_lanes_with_a_slot(x):
    code = _warp_row_sums_kernel.code.replace(
        "        sum = lane < blockDim.x / 32 ? per_warp[lane] : 0.0;",
        "        if (lane >= blockDim.x / 32) return;\n        sum = per_warp[lane];",
    )
    rows, cols = x.shape
    out = cp.empty((rows,), dtype=x.dtype)
    cp.RawKernel(code, "katas_warp_row_sums")((rows,), (256,), (x, out, cp.int32(rows), cp.int32(cols)))
    return out


@mutant(
    "gpu.warp_row_sums",
    expect=r"(?s)(data race on shared per_warp|read shared per_warp\[1\] on line \d+ before any thread).*"
    r"__syncthreads\(\) is missing",
)
def warp_row_sums_without_the_barrier(x):
    code = _warp_row_sums_kernel.code.replace(
        "    __syncthreads();                                 // every warp's slot", "    // every warp's slot"
    )
    rows, cols = x.shape
    out = cp.empty((rows,), dtype=x.dtype)
    cp.RawKernel(code, "katas_warp_row_sums")((rows,), (256,), (x, out, cp.int32(rows), cp.int32(cols)))
    return out


@mutant(
    "gpu.warp_row_sums", expect=r"(?s)read shared per_warp\[8\] on line \d+ before any thread of its block wrote it"
)
def warp_row_sums_reading_every_slot(x):
    code = _warp_row_sums_kernel.code.replace(
        "sum = lane < blockDim.x / 32 ? per_warp[lane] : 0.0;", "sum = per_warp[lane];"
    )
    rows, cols = x.shape
    out = cp.empty((rows,), dtype=x.dtype)
    cp.RawKernel(code, "katas_warp_row_sums")((rows,), (256,), (x, out, cp.int32(rows), cp.int32(cols)))
    return out


@mutant("gpu.warp_row_sums", expect=r"__shfl_up_sync hands lane 0 its own value")
def warp_row_sums_shuffling_up(x):
    code = _warp_row_sums_kernel.code.replace("__shfl_down_sync", "__shfl_up_sync")
    rows, cols = x.shape
    out = cp.empty((rows,), dtype=x.dtype)
    cp.RawKernel(code, "katas_warp_row_sums")((rows,), (256,), (x, out, cp.int32(rows), cp.int32(cols)))
    return out


@mutant("gpu.warp_row_sums", expect=r"(?s)data race on out\[\d+\].*lane 0 of warp 0 writes out\[row\]")
def warp_row_sums_every_warp_writing_the_row(x):
    code = r"""
extern "C" __global__ void katas_warp_sums_each_warp(const double* x, double* out, int rows, int cols) {
    int t = threadIdx.x;
    double sum = 0.0;
    for (int j = t; j < cols; j += blockDim.x) sum += x[blockIdx.x * cols + j];
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffff, sum, offset);
    if (t % 32 == 0) out[blockIdx.x] += sum;
}
"""
    rows, cols = x.shape
    out = cp.zeros((rows,), dtype=x.dtype)
    cp.RawKernel(code, "katas_warp_sums_each_warp")((rows,), (256,), (x, out, cp.int32(rows), cp.int32(cols)))
    return out


@alternative("gpu.warp_row_sums")
def warp_row_sums_with_a_butterfly_and_atomics(x):
    # __shfl_xor_sync leaves the warp's total in every lane; each warp adds it to the row with one atomic.
    code = r"""
extern "C" __global__ void katas_warp_sums_xor(const double* x, double* out, int rows, int cols) {
    double sum = 0.0;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) sum += x[blockIdx.x * cols + j];
    for (int mask = 1; mask < 32; mask *= 2) sum += __shfl_xor_sync(0xffffffff, sum, mask);
    if (threadIdx.x % 32 == 0) atomicAdd(&out[blockIdx.x], sum);
}
"""
    rows, cols = x.shape
    out = cp.zeros((rows,), dtype=x.dtype)
    cp.RawKernel(code, "katas_warp_sums_xor")((rows,), (128,), (x, out, cp.int32(rows), cp.int32(cols)))
    return out


@alternative("gpu.warp_row_sums")
def warp_row_sums_with_one_warp_per_row(x):
    # A row per warp, 4 rows per block: no shared memory at all.
    code = r"""
extern "C" __global__ void katas_warp_per_row(const double* x, double* out, int rows, int cols) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    double sum = 0.0;
    if (row < rows) {
        for (int j = lane; j < cols; j += 32) sum += x[row * cols + j];
    }
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffff, sum, offset);
    if (lane == 0 && row < rows) out[row] = sum;
}
"""
    rows, cols = x.shape
    out = cp.empty((rows,), dtype=x.dtype)
    cp.RawKernel(code, "katas_warp_per_row")(((rows + 3) // 4,), (128,), (x, out, cp.int32(rows), cp.int32(cols)))
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


@mutant(
    "gpu.softmax",
    expect=r"(?s)data race on y\[\d+\] \(a (read after a write|write after a read)\).*__syncthreads\(\) is missing",
)
def softmax_summing_what_other_threads_wrote_without_a_barrier(x):
    # y holds exp(x - max) (written strided), then each thread sums a contiguous chunk of y: elements
    # another thread wrote, with no __syncthreads() between the writes and the reads (global memory).
    code = r"""
extern "C" __global__ void katas_softmax_chunks(const double* x, double* y, int rows, int cols) {
    __shared__ double partial[128];
    int t = threadIdx.x, row = blockIdx.x;
    double m = -1e308;
    for (int j = t; j < cols; j += blockDim.x) m = fmax(m, x[row * cols + j]);
    partial[t] = m;
    __syncthreads();
    for (int s = 64; s > 0; s /= 2) { if (t < s) partial[t] = fmax(partial[t], partial[t + s]); __syncthreads(); }
    double row_max = partial[0];
    __syncthreads();
    for (int j = t; j < cols; j += blockDim.x) y[row * cols + j] = exp(x[row * cols + j] - row_max);
    int chunk = (cols + blockDim.x - 1) / blockDim.x;
    double sum = 0.0;
    for (int j = t * chunk; j < cols && j < (t + 1) * chunk; ++j) sum += y[row * cols + j];
    partial[t] = sum;
    __syncthreads();
    for (int s = 64; s > 0; s /= 2) { if (t < s) partial[t] += partial[t + s]; __syncthreads(); }
    double total = partial[0];
    for (int j = t; j < cols; j += blockDim.x) y[row * cols + j] /= total;
}
"""
    rows, cols = x.shape
    y = cp.empty_like(x)
    cp.RawKernel(code, "katas_softmax_chunks")((rows,), (128,), (x, y, cp.int32(rows), cp.int32(cols)))
    return y


@mutant("gpu.softmax", expect=r"(?s)depends on the order the threads run in.*could not pin")
def softmax_sharing_the_max_through_a_device_variable(x):
    # Thread 0 publishes the row's max in a __device__ variable (global memory the emulator does not
    # shadow) and the others read it with no barrier: in another thread order they read another row's max.
    code = r"""
__device__ double row_max_slot;

extern "C" __global__ void katas_softmax_device_var(const double* x, double* y, int rows, int cols) {
    __shared__ double partial[128];
    int t = threadIdx.x, row = blockIdx.x;
    if (t == 0) {
        double m = -1e308;
        for (int j = 0; j < cols; ++j) m = fmax(m, x[row * cols + j]);
        row_max_slot = m;
    }
    double row_max = row_max_slot;
    double sum = 0.0;
    for (int j = t; j < cols; j += blockDim.x) sum += exp(x[row * cols + j] - row_max);
    partial[t] = sum;
    __syncthreads();
    for (int s = 64; s > 0; s /= 2) { if (t < s) partial[t] += partial[t + s]; __syncthreads(); }
    double total = partial[0];
    for (int j = t; j < cols; j += blockDim.x) y[row * cols + j] = exp(x[row * cols + j] - row_max) / total;
}
"""
    rows, cols = x.shape
    y = cp.empty_like(x)
    cp.RawKernel(code, "katas_softmax_device_var")((rows,), (128,), (x, y, cp.int32(rows), cp.int32(cols)))
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


@mutant(
    "gpu.dense_forward",
    expect=r"(?s)data race on shared [xk]_tile\[\d+\] \(a (read after a write|write after a read)\): .* on line \d+.*complete",
)
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


# ---------------------------------------------------------------- gpu.transpose


@mutant("gpu.transpose", expect=r"(?s)data race on shared tile\[\d+\].*between the loads and the stores")
def transpose_without_the_barrier(x):
    code = _transpose_kernel.code.replace("    __syncthreads();  ", "    //  ")
    rows, cols = x.shape
    y = cp.empty((cols, rows), dtype=x.dtype)
    cp.RawKernel(code, "katas_transpose")(
        ((cols + 31) // 32, (rows + 31) // 32), (32, 8), (x, y, cp.int32(rows), cp.int32(cols))
    )
    return y


@mutant("gpu.transpose", expect=r"(?s)read x\[\d+\], but x has \d+ elements.*load only where")
def transpose_with_unguarded_loads(x):
    code = _transpose_kernel.code.replace("if (r < rows && c < cols) tile[k][tx]", "tile[k][tx]")
    rows, cols = x.shape
    y = cp.empty((cols, rows), dtype=x.dtype)
    cp.RawKernel(code, "katas_transpose")(
        ((cols + 31) // 32, (rows + 31) // 32), (32, 8), (x, y, cp.int32(rows), cp.int32(cols))
    )
    return y


@mutant("gpu.transpose", expect=r"(?s)y\[\d+\], but y has \d+ elements.*its row length is rows")
def transpose_writing_with_the_row_length_of_x(x):
    code = _transpose_kernel.code.replace("y[r * rows + c]", "y[r * cols + c]")
    rows, cols = x.shape
    y = cp.empty((cols, rows), dtype=x.dtype)
    cp.RawKernel(code, "katas_transpose")(
        ((cols + 31) // 32, (rows + 31) // 32), (32, 8), (x, y, cp.int32(rows), cp.int32(cols))
    )
    return y


@mutant("gpu.transpose", expect=r"(?s)but tile is \[16\]\[17\]: column \d+ is out of bounds.*the block \(32, 8\)")
def transpose_with_a_tile_too_small_for_the_block(x):
    code = _transpose_kernel.code.replace("#define TILE 32", "#define TILE 16")
    rows, cols = x.shape
    y = cp.empty((cols, rows), dtype=x.dtype)
    cp.RawKernel(code, "katas_transpose")(
        ((cols + 31) // 32, (rows + 31) // 32), (32, 8), (x, y, cp.int32(rows), cp.int32(cols))
    )
    return y


@mutant("gpu.transpose", expect=r"(?s)never written.*row and column swapped")
def transpose_with_the_grid_swapped(x):
    rows, cols = x.shape
    y = cp.empty((cols, rows), dtype=x.dtype)
    grid = ((rows + 31) // 32, (cols + 31) // 32)  # x and y swapped
    cp.RawKernel(_transpose_kernel.code, "katas_transpose")(grid, (32, 8), (x, y, cp.int32(rows), cp.int32(cols)))
    return y


@mutant("gpu.transpose", expect=r"bank-conflict replays \(line \d+, 16-way\).*Pad the tile to \[32\]\[33\]")
def transpose_with_an_unpadded_tile_and_square_blocks(x):
    # Right values, one element per thread; the [32][32] tile makes each column read a bank conflict.
    code = r"""
extern "C" __global__ void katas_transpose_square(const double* x, double* y, int rows, int cols) {
    __shared__ double tile[32][32];
    int c = blockIdx.x * 32 + threadIdx.x, r = blockIdx.y * 32 + threadIdx.y;
    if (r < rows && c < cols) tile[threadIdx.y][threadIdx.x] = x[r * cols + c];
    __syncthreads();
    int out_r = blockIdx.x * 32 + threadIdx.y, out_c = blockIdx.y * 32 + threadIdx.x;
    if (out_r < cols && out_c < rows) y[out_r * rows + out_c] = tile[threadIdx.x][threadIdx.y];
}
"""
    rows, cols = x.shape
    y = cp.empty((cols, rows), dtype=x.dtype)
    cp.RawKernel(code, "katas_transpose_square")(
        ((cols + 31) // 32, (rows + 31) // 32), (32, 32), (x, y, cp.int32(rows), cp.int32(cols))
    )
    return y


@mutant(
    "gpu.transpose", expect=r"writes y in 4x the sectors it needs \(line \d+: neighbouring threads are \d+ elements"
)
def transpose_naively(x):
    # Right values without shared memory: reads are coalesced, writes are strided by rows.
    code = r"""
extern "C" __global__ void katas_transpose_naive(const double* x, double* y, int rows, int cols) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= rows * cols) return;
    int r = i / cols, c = i % cols;
    y[c * rows + r] = x[i];
}
"""
    rows, cols = x.shape
    y = cp.empty((cols, rows), dtype=x.dtype)
    cp.RawKernel(code, "katas_transpose_naive")(
        ((x.size + 127) // 128,), (128,), (x, y, cp.int32(rows), cp.int32(cols))
    )
    return y


@alternative("gpu.transpose")
def transpose_with_a_padded_tile_and_square_blocks(x):
    # One element per thread, blocks of 32 x 32, the padded tile.
    code = r"""
extern "C" __global__ void katas_transpose_square_padded(const double* x, double* y, int rows, int cols) {
    __shared__ double tile[32][33];
    int c = blockIdx.x * 32 + threadIdx.x, r = blockIdx.y * 32 + threadIdx.y;
    if (r < rows && c < cols) tile[threadIdx.y][threadIdx.x] = x[r * cols + c];
    __syncthreads();
    int out_r = blockIdx.x * 32 + threadIdx.y, out_c = blockIdx.y * 32 + threadIdx.x;
    if (out_r < cols && out_c < rows) y[out_r * rows + out_c] = tile[threadIdx.x][threadIdx.y];
}
"""
    rows, cols = x.shape
    y = cp.empty((cols, rows), dtype=x.dtype)
    grid = ((cols + 31) // 32, (rows + 31) // 32)
    cp.RawKernel(code, "katas_transpose_square_padded")(grid, (32, 32), (x, y, cp.int32(rows), cp.int32(cols)))
    return y


@alternative("gpu.transpose")
def transpose_with_a_dynamic_tile(x):
    # The tile in dynamic shared memory, indexed by hand with a row length of 33; blocks of 32 x 16.
    code = r"""
extern "C" __global__ void katas_transpose_dynamic(const double* x, double* y, int rows, int cols) {
    extern __shared__ double tile[];
    const int width = 33;
    int col0 = blockIdx.x * 32, row0 = blockIdx.y * 32;
    for (int k = threadIdx.y; k < 32; k += blockDim.y) {
        if (row0 + k < rows && col0 + threadIdx.x < cols) tile[k * width + threadIdx.x] = x[(row0 + k) * cols + col0 + threadIdx.x];
    }
    __syncthreads();
    for (int k = threadIdx.y; k < 32; k += blockDim.y) {
        if (col0 + k < cols && row0 + threadIdx.x < rows) y[(col0 + k) * rows + row0 + threadIdx.x] = tile[threadIdx.x * width + k];
    }
}
"""
    rows, cols = x.shape
    y = cp.empty((cols, rows), dtype=x.dtype)
    grid = ((cols + 31) // 32, (rows + 31) // 32)
    kernel = cp.RawKernel(code, "katas_transpose_dynamic")
    kernel(grid, (32, 16), (x, y, cp.int32(rows), cp.int32(cols)), shared_mem=32 * 33 * 8)
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


# ---- blind sweep (issue 24, round 3): written from the answer key, before reading the kata's tests
# float32 arithmetic inside each kernel of a float64 kata: the answer key's kernel with its arithmetic
# (an accumulator, a shared tile, a local value) in float, the pointers still double.


@mutant("gpu.leaky_relu", expect=r"float32's precision|returned inf at index")
def leaky_relu_in_float_inside(x, negative_slope=0.2):
    kernel = cp.ElementwiseKernel(
        "T x, T slope", "T y", "float v = x; y = v >= 0 ? v : (float)slope * v", "katas_mutant_leaky_float"
    )
    return kernel(x, x.dtype.type(negative_slope))


@mutant("gpu.relu", expect=r"float32's precision")
def relu_in_float_inside(x):
    code = _relu_kernel.code.replace("y[i] = x[i] > 0.0 ? x[i] : 0.0;", "float v = x[i]; y[i] = v > 0.0f ? v : 0.0f;")
    assert code != _relu_kernel.code
    y = cp.empty_like(x)
    cp.RawKernel(code, "katas_relu")(((x.size + 127) // 128,), (128,), (x, y, cp.int32(x.size)))
    return y


@mutant("gpu.add_bias", expect=r"float32's precision")
def add_bias_in_float_inside(x, bias):
    code = _add_bias_kernel.code.replace(
        "x[row * units + col] + bias[col]", "(float)x[row * units + col] + (float)bias[col]"
    )
    assert code != _add_bias_kernel.code
    batch, units = x.shape
    y = cp.empty_like(x)
    grid = ((units + 15) // 16, (batch + 15) // 16)
    cp.RawKernel(code, "katas_add_bias")(grid, (16, 16), (x, bias, y, cp.int32(batch), cp.int32(units)))
    return y


@mutant("gpu.row_sums", expect=r"float32's precision")
def row_sums_with_a_float_accumulator(x):
    code = _row_sums_kernel.code.replace("double sum = 0.0;", "float sum = 0.0f;")
    assert code != _row_sums_kernel.code
    rows, cols = x.shape
    out = cp.empty((rows,), dtype=x.dtype)
    cp.RawKernel(code, "katas_row_sums")(
        (rows,), (SUM_THREADS,), (x, out, cp.int32(rows), cp.int32(cols)), shared_mem=SUM_THREADS * x.itemsize
    )
    return out


@mutant("gpu.warp_row_sums", expect=r"float32's precision")
def warp_row_sums_with_a_float_accumulator(x):
    code = _warp_row_sums_kernel.code.replace("double sum = 0.0;", "float sum = 0.0f;")
    assert code != _warp_row_sums_kernel.code
    rows, cols = x.shape
    out = cp.empty((rows,), dtype=x.dtype)
    cp.RawKernel(code, "katas_warp_row_sums")((rows,), (WARP_SUM_THREADS,), (x, out, cp.int32(rows), cp.int32(cols)))
    return out


@mutant("gpu.softmax", expect=r"float32's precision")
def softmax_with_expf(x):
    code = _softmax_kernel.code.replace("exp(in[j] - row_max)", "expf(in[j] - row_max)")
    assert code != _softmax_kernel.code
    rows, cols = x.shape
    y = cp.empty_like(x)
    cp.RawKernel(code, "katas_softmax")((rows,), (SOFTMAX_THREADS,), (x, y, cp.int32(rows), cp.int32(cols)))
    return y


@mutant("gpu.dense_forward", expect=r"float32's precision")
def dense_forward_with_a_float_accumulator(x, kernel, bias):
    code = _dense_kernel.code.replace("double acc = 0.0;", "float acc = 0.0f;")
    assert code != _dense_kernel.code
    batch, inputs = x.shape
    units = kernel.shape[1]
    y = cp.empty((batch, units), dtype=x.dtype)
    grid = ((units + TILE - 1) // TILE, (batch + TILE - 1) // TILE)
    cp.RawKernel(code, "katas_dense")(
        grid, (TILE, TILE), (x, kernel, bias, y, cp.int32(batch), cp.int32(inputs), cp.int32(units))
    )
    return y


@mutant("gpu.transpose", expect=r"float32's precision")
def transpose_through_a_float_tile(x):
    code = _transpose_kernel.code.replace("__shared__ double tile", "__shared__ float tile")
    assert code != _transpose_kernel.code
    rows, cols = x.shape
    y = cp.empty((cols, rows), dtype=x.dtype)
    grid = ((cols + TRANSPOSE_TILE - 1) // TRANSPOSE_TILE, (rows + TRANSPOSE_TILE - 1) // TRANSPOSE_TILE)
    cp.RawKernel(code, "katas_transpose")(
        grid, (TRANSPOSE_TILE, TRANSPOSE_ROWS), (x, y, cp.int32(rows), cp.int32(cols))
    )
    return y


@mutant("gpu.conv2d", expect=r"float32's precision")
def conv2d_with_a_float_accumulator(x, kernel, bias):
    code = _conv_kernel.code.replace("double acc = bias[o];", "float acc = bias[o];")
    assert code != _conv_kernel.code
    batch, height, width, in_ch = x.shape
    kh, kw, _, out_ch = kernel.shape
    out_h, out_w = height - kh + 1, width - kw + 1
    y = cp.empty((batch, out_h, out_w, out_ch), dtype=x.dtype)
    cp.RawKernel(code, "katas_conv2d")(
        ((y.size + CONV_THREADS - 1) // CONV_THREADS,),
        (CONV_THREADS,),
        (x, kernel, bias, y, *(cp.int32(v) for v in (batch, height, width, in_ch, kh, kw, out_ch, out_h, out_w))),
    )
    return y


@alternative("gpu.relu")
def relu_with_a_grid_stride_loop(x):
    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void katas_relu_grid_stride(const double* x, double* y, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        double v = x[i];
        y[i] = v > 0.0 ? v : 0.0;
    }
}
""",
        "katas_relu_grid_stride",
    )
    y = cp.empty_like(x)
    kernel((32,), (128,), (x, y, cp.int32(x.size)))
    return y
