// Softmax over the last axis: one thread block per row, max-shifted.
//
//   y[r, j] = exp(x[r, j] - m_r) / sum_k exp(x[r, k] - m_r),   m_r = max_k x[r, k]
//
// Subtracting the row maximum changes nothing mathematically (it cancels in
// the ratio) but keeps every exp() argument <= 0, so nothing overflows.
// Three passes over the row, each a block-wide loop plus a shared-memory tree
// reduction: (1) the max, (2) write exp(x - max) into y and sum it, (3) scale y.
// Rows longer than the block are handled by the strided loops; a row shorter
// than the block leaves some threads idle, which is fine.

#define KERNELS_SOFTMAX_BLOCK 256  // a power of two: the tree reduction halves it

// Tree reduction in shared memory; `combine` is max (op 0) or sum (op 1).
// Every thread of the block must call it (it synchronises).
template <typename T>
__device__ T kernels_block_reduce(T* shared, T value, int op) {
    const int tid = threadIdx.x;
    shared[tid] = value;
    __syncthreads();
    for (int half = KERNELS_SOFTMAX_BLOCK / 2; half > 0; half /= 2) {
        if (tid < half) {
            const T other = shared[tid + half];
            shared[tid] = op == 0 ? kernels_fmax(shared[tid], other) : shared[tid] + other;
        }
        __syncthreads();
    }
    const T result = shared[0];
    __syncthreads();  // shared[] is reused by the next reduction
    return result;
}

// x, y: (rows, cols), C-contiguous. Launch with blockDim.x == KERNELS_SOFTMAX_BLOCK;
// any gridDim.x works (blocks stride over rows).
template <typename T>
__global__ void kernels_softmax_rows(const T* __restrict__ x, T* __restrict__ y,
                                     long long rows, long long cols) {
    __shared__ T shared[KERNELS_SOFTMAX_BLOCK];
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* in = x + row * cols;
        T* out = y + row * cols;

        T local_max = kernels_lowest(T(0));
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
            local_max = kernels_fmax(local_max, in[j]);
        }
        const T row_max = kernels_block_reduce(shared, local_max, 0);

        T local_sum = T(0);
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
            const T e = kernels_exp(in[j] - row_max);
            out[j] = e;
            local_sum += e;
        }
        const T row_sum = kernels_block_reduce(shared, local_sum, 1);

        const T scale = T(1) / row_sum;
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
            out[j] *= scale;
        }
    }
}
