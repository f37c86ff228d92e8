// The element-wise half of one LSTM step, fused into a single kernel.
//
// The caller computes the two matrix products with cuBLAS:
//   zx = x_t @ kernel              (batch, 4 * units)
//   zh = h   @ recurrent_kernel    (batch, 4 * units)
// and this kernel does everything else in one pass, one thread per (b, j):
//   z = zx + zh + bias, split in Keras's gate order i, f, c, o:
//   i = sigmoid(z_i)   f = sigmoid(z_f)   g = tanh(z_c)   o = sigmoid(z_o)
//   c_new = f * c + i * g
//   h_new = o * tanh(c_new)
// (Keras's LSTM: activation tanh, recurrent_activation sigmoid.)

template <typename T>
__global__ void kernels_lstm_cell(const T* __restrict__ zx, const T* __restrict__ zh,
                                  const T* __restrict__ bias, const T* __restrict__ c,
                                  T* __restrict__ h_new, T* __restrict__ c_new,
                                  long long batch, long long units) {
    const long long total = batch * units;
    for (long long i = kernels_thread_index(); i < total; i += kernels_grid_stride()) {
        const long long j = i % units;
        const long long b = i / units;
        const long long base = b * 4 * units + j;  // gate k of unit j sits at base + k * units
        const T z_i = zx[base] + zh[base] + bias[j];
        const T z_f = zx[base + units] + zh[base + units] + bias[j + units];
        const T z_c = zx[base + 2 * units] + zh[base + 2 * units] + bias[j + 2 * units];
        const T z_o = zx[base + 3 * units] + zh[base + 3 * units] + bias[j + 3 * units];
        const T input_gate = kernels_sigmoid(z_i);
        const T forget_gate = kernels_sigmoid(z_f);
        const T candidate = kernels_tanh(z_c);
        const T output_gate = kernels_sigmoid(z_o);
        const T cell = forget_gate * c[i] + input_gate * candidate;
        c_new[i] = cell;
        h_new[i] = output_gate * kernels_tanh(cell);
    }
}
