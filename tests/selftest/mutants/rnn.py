"""Wrong and right ways to write katas/rnn.py.

The mutants are the mistakes people make with recurrent layers: the gate
order of another course (i, f, o, g), tanh for the gates, a forgotten
recurrent term, an embedding gradient that assigns instead of adding, the
textbook GRU (reset before the matmul), BPTT that drops the path through the
cell state, return_sequences ignored. Names of solutions/rnn.py are in scope.
"""

import numpy as np
from mutation import SOLUTIONS, alternative, mutant

from dojo.course.implementation import Implementation

# Class variants subclass the answer key's layers. Here, at registration, the bases come from
# solutions/rnn.py; once spliced into the copied module, the same names are that module's own.
_answer_key = Implementation(SOLUTIONS).module("rnn")
Embedding, SimpleRNN, LSTM, GRU = (_answer_key.Embedding, _answer_key.SimpleRNN, _answer_key.LSTM, _answer_key.GRU)

# ------------------------------------------------------------------ embedding_forward


@mutant("rnn.embedding_forward", expect="counted ids from 1")
def embedding_forward_one_based(ids, table):
    return np.asarray(table, dtype=float)[np.asarray(ids) - 1]


@mutant("rnn.embedding_forward", expect=r"np.take\(table, ids\) without axis")
def embedding_forward_take_without_axis(ids, table):
    return np.take(np.asarray(table, dtype=float), np.asarray(ids))  # MISTAKE: no axis=0


@alternative("rnn.embedding_forward")
def embedding_forward_one_hot(ids, table):
    table = np.asarray(table, dtype=float)
    one_hot = np.eye(table.shape[0])[np.asarray(ids)]  # (batch, timesteps, input_dim)
    return one_hot @ table


# ------------------------------------------------------------------ embedding_backward


@mutant("rnn.embedding_backward", expect="only one|add up")
def embedding_backward_assigns(dout, ids, vocab_size):
    dout = np.asarray(dout, dtype=float)
    grad = np.zeros((vocab_size, dout.shape[-1]))
    grad[np.asarray(ids)] += dout  # each repeated row is written once
    return grad


@alternative("rnn.embedding_backward")
def embedding_backward_loop(dout, ids, vocab_size):
    dout = np.asarray(dout, dtype=float)
    grad = np.zeros((vocab_size, dout.shape[-1]))
    for b in range(ids.shape[0]):
        for t in range(ids.shape[1]):
            grad[ids[b, t]] += dout[b, t]
    return grad


@alternative("rnn.embedding_backward")
def embedding_backward_one_hot(dout, ids, vocab_size):
    one_hot = np.eye(vocab_size)[np.asarray(ids)]  # (batch, timesteps, vocab)
    return np.einsum("btv,btd->vd", one_hot, np.asarray(dout, dtype=float))


# ------------------------------------------------------------------ simple_rnn_forward


@mutant("rnn.simple_rnn_forward", expect="recurrent term is missing")
def simple_rnn_without_recurrence(x, kernel, recurrent_kernel, bias, return_sequences=False):
    hs = np.tanh(np.asarray(x) @ kernel + bias)
    return hs if return_sequences else hs[:, -1]


@mutant("rnn.simple_rnn_forward", expect="return_sequences")
def simple_rnn_ignoring_return_sequences(x, kernel, recurrent_kernel, bias, return_sequences=False):
    states = _simple_rnn_states(x, *(np.asarray(w, dtype=float) for w in (kernel, recurrent_kernel, bias)))
    return states[-1]  # MISTAKE: the last state, whatever return_sequences says


@mutant("rnn.simple_rnn_forward", expect="recurrent kernel is used transposed")
def simple_rnn_forward_transposed_recurrent(x, kernel, recurrent_kernel, bias, return_sequences=False):
    x = np.asarray(x, dtype=float)
    h = np.zeros((x.shape[0], np.shape(recurrent_kernel)[0]))
    outputs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ kernel + h @ np.asarray(recurrent_kernel).T + bias)  # MISTAKE: W_hh h, book style
        outputs.append(h)
    return np.stack(outputs, axis=1) if return_sequences else h


@alternative("rnn.simple_rnn_forward")
def simple_rnn_forward_step_by_step(x, kernel, recurrent_kernel, bias, return_sequences=False):
    x = np.asarray(x, dtype=float)
    h = np.zeros((x.shape[0], np.shape(recurrent_kernel)[0]))
    outputs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent_kernel + bias)
        outputs.append(h)
    return np.stack(outputs, axis=1) if return_sequences else h


# ------------------------------------------------------------------ lstm_cell_forward
# Each variant is spliced into solutions/rnn.py on its own, so each one is self-contained.


@mutant("rnn.lstm_cell_forward", expect="i, f, c, o")
def lstm_cell_gates_i_f_o_g(x_t, h, c, kernel, recurrent_kernel, bias):
    z = np.asarray(x_t) @ kernel + np.asarray(h) @ recurrent_kernel + bias
    i, f, o, g = np.split(z, 4, axis=-1)  # another course's order
    c_t = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c_t), c_t


@mutant("rnn.lstm_cell_forward", expect="sigmoid")
def lstm_cell_tanh_gates(x_t, h, c, kernel, recurrent_kernel, bias):
    z = np.asarray(x_t) @ kernel + np.asarray(h) @ recurrent_kernel + bias
    i, f, g, o = np.split(z, 4, axis=-1)
    c_t = np.tanh(f) * c + np.tanh(i) * np.tanh(g)
    return np.tanh(o) * np.tanh(c_t), c_t


@mutant("rnn.lstm_cell_forward", expect="recurrent term")
def lstm_cell_without_recurrence(x_t, h, c, kernel, recurrent_kernel, bias):
    i, f, g, o = np.split(np.asarray(x_t) @ kernel + bias, 4, axis=-1)
    c_t = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c_t), c_t


@alternative("rnn.lstm_cell_forward")
def lstm_cell_per_gate_slices(x_t, h, c, kernel, recurrent_kernel, bias):
    units = np.shape(recurrent_kernel)[0]

    def pre(k):  # gate k's own columns of each weight
        cols = slice(k * units, (k + 1) * units)
        return x_t @ kernel[:, cols] + h @ recurrent_kernel[:, cols] + bias[cols]

    i, f, g, o = sigmoid(pre(0)), sigmoid(pre(1)), np.tanh(pre(2)), sigmoid(pre(3))
    c_t = f * c + i * g
    return o * np.tanh(c_t), c_t


# ------------------------------------------------------------------ lstm_forward


@mutant("rnn.lstm_forward", expect="i, f, c, o")
def lstm_forward_gates_i_f_o_g(x, kernel, recurrent_kernel, bias, return_sequences=False):
    def reorder(w):  # read the columns as i, f, o, g
        i, f, o, g = np.split(np.asarray(w), 4, axis=-1)
        return np.concatenate([i, f, g, o], axis=-1)

    states, _, _ = _lstm_run(x, reorder(kernel), reorder(recurrent_kernel), reorder(bias))
    return _outputs(states, return_sequences)


@mutant("rnn.lstm_forward", expect="recurrent term is missing")
def lstm_forward_without_recurrence(x, kernel, recurrent_kernel, bias, return_sequences=False):
    x = np.asarray(x, dtype=float)
    h = c = np.zeros((x.shape[0], np.shape(recurrent_kernel)[0]))
    hs = []
    for t in range(x.shape[1]):
        h, c = lstm_cell_forward(x[:, t], np.zeros_like(h), c, kernel, recurrent_kernel, bias)
        hs.append(h)
    return np.stack(hs, axis=1) if return_sequences else h


@mutant("rnn.lstm_forward", expect="return_sequences")
def lstm_forward_ignoring_return_sequences(x, kernel, recurrent_kernel, bias, return_sequences=False):
    x = np.asarray(x, dtype=float)
    h = c = np.zeros((x.shape[0], np.shape(recurrent_kernel)[0]))
    for t in range(x.shape[1]):
        h, c = lstm_cell_forward(x[:, t], h, c, kernel, recurrent_kernel, bias)
    return h


@mutant("rnn.lstm_forward", expect="sigmoid")
def lstm_forward_tanh_gates(x, kernel, recurrent_kernel, bias, return_sequences=False):
    x = np.asarray(x, dtype=float)
    h = c = np.zeros((x.shape[0], np.shape(recurrent_kernel)[0]))
    hs = []
    for t in range(x.shape[1]):
        i, f, g, o = np.split(x[:, t] @ kernel + h @ recurrent_kernel + bias, 4, axis=-1)
        c = np.tanh(f) * c + np.tanh(i) * np.tanh(g)
        h = np.tanh(o) * np.tanh(c)
        hs.append(h)
    return np.stack(hs, axis=1) if return_sequences else h


@alternative("rnn.lstm_forward")
def lstm_forward_with_the_cell(x, kernel, recurrent_kernel, bias, return_sequences=False):
    x = np.asarray(x, dtype=float)
    h = c = np.zeros((x.shape[0], np.shape(recurrent_kernel)[0]))
    hs = []
    for t in range(x.shape[1]):
        h, c = lstm_cell_forward(x[:, t], h, c, kernel, recurrent_kernel, bias)
        hs.append(h)
    return np.stack(hs, axis=1) if return_sequences else h


@alternative("rnn.lstm_forward")
def lstm_forward_one_fused_matmul(x, kernel, recurrent_kernel, bias, return_sequences=False):
    x = np.asarray(x, dtype=float)
    units = np.shape(recurrent_kernel)[0]
    stacked = np.vstack([kernel, recurrent_kernel])  # [x_t, h] @ [[kernel], [recurrent_kernel]]
    h = c = np.zeros((x.shape[0], units))
    hs = []
    for t in range(x.shape[1]):
        z = np.concatenate([x[:, t], h], axis=1) @ stacked + bias
        i, f, g, o = np.split(z, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        hs.append(h)
    return np.stack(hs, axis=1) if return_sequences else h


# ------------------------------------------------------------------ lstm_backward
# Each variant is spliced alone, so the BPTT loop is repeated in each; the line that differs is commented.


@mutant("rnn.lstm_backward", expect="cell state")
def lstm_backward_dropping_the_cell_path(dout, x, kernel, recurrent_kernel, bias, return_sequences=False):
    x, dout = np.asarray(x, dtype=float), np.asarray(dout, dtype=float)
    states, cells, gates = _lstm_run(x, kernel, recurrent_kernel, bias)
    steps, units = x.shape[1], np.shape(recurrent_kernel)[0]
    dz = np.zeros(x.shape[:2] + (4 * units,))
    drecurrent = np.zeros_like(recurrent_kernel)
    dh = dc = 0.0
    for t in reversed(range(steps)):
        i, f, g, o = np.split(gates[t], 4, axis=1)
        dh = dh + (dout[:, t] if return_sequences else (dout if t == steps - 1 else 0.0))
        tanh_c = np.tanh(cells[t + 1])
        dc = dc + dh * o * (1 - tanh_c**2)
        dz[:, t] = np.concatenate(
            [dc * g * i * (1 - i), dc * cells[t] * f * (1 - f), dc * i * (1 - g**2), dh * tanh_c * o * (1 - o)], axis=1
        )
        drecurrent += states[t].T @ dz[:, t]
        dh, dc = dz[:, t] @ recurrent_kernel.T, 0.0  # MISTAKE: the cell's own path, dc * f, is dropped
    return dz @ kernel.T, np.einsum("bti,btj->ij", x, dz), drecurrent, dz.sum(axis=(0, 1))


@mutant("rnn.lstm_backward", expect=r"only the columns of f \(forget gate\) differ")
def lstm_backward_forget_gate_with_the_new_cell(dout, x, kernel, recurrent_kernel, bias, return_sequences=False):
    x, dout = np.asarray(x, dtype=float), np.asarray(dout, dtype=float)
    states, cells, gates = _lstm_run(x, kernel, recurrent_kernel, bias)
    steps, units = x.shape[1], np.shape(recurrent_kernel)[0]
    dz = np.zeros(x.shape[:2] + (4 * units,))
    drecurrent = np.zeros_like(recurrent_kernel)
    dh = dc = 0.0
    for t in reversed(range(steps)):
        i, f, g, o = np.split(gates[t], 4, axis=1)
        dh = dh + (dout[:, t] if return_sequences else (dout if t == steps - 1 else 0.0))
        tanh_c = np.tanh(cells[t + 1])
        dc = dc + dh * o * (1 - tanh_c**2)
        dz[:, t] = np.concatenate(
            [
                dc * g * i * (1 - i),
                dc * cells[t + 1] * f * (1 - f),  # MISTAKE: c_t, not c_{t-1}
                dc * i * (1 - g**2),
                dh * tanh_c * o * (1 - o),
            ],
            axis=1,
        )
        drecurrent += states[t].T @ dz[:, t]
        dh, dc = dz[:, t] @ recurrent_kernel.T, dc * f
    return dz @ kernel.T, np.einsum("bti,btj->ij", x, dz), drecurrent, dz.sum(axis=(0, 1))


@mutant("rnn.lstm_backward", expect=r"h_\{t-1\} is missing")
def lstm_backward_dropping_the_recurrent_path(dout, x, kernel, recurrent_kernel, bias, return_sequences=False):
    x, dout = np.asarray(x, dtype=float), np.asarray(dout, dtype=float)
    states, cells, gates = _lstm_run(x, kernel, recurrent_kernel, bias)
    steps, units = x.shape[1], np.shape(recurrent_kernel)[0]
    dz = np.zeros(x.shape[:2] + (4 * units,))
    drecurrent = np.zeros_like(recurrent_kernel)
    dh = dc = 0.0
    for t in reversed(range(steps)):
        i, f, g, o = np.split(gates[t], 4, axis=1)
        dh = dh + (dout[:, t] if return_sequences else (dout if t == steps - 1 else 0.0))
        tanh_c = np.tanh(cells[t + 1])
        dc = dc + dh * o * (1 - tanh_c**2)
        dz[:, t] = np.concatenate(
            [dc * g * i * (1 - i), dc * cells[t] * f * (1 - f), dc * i * (1 - g**2), dh * tanh_c * o * (1 - o)], axis=1
        )
        drecurrent += states[t].T @ dz[:, t]
        dh, dc = 0.0, dc * f  # MISTAKE: forgot dh_{t-1} = dz @ recurrent_kernel.T
    return dz @ kernel.T, np.einsum("bti,btj->ij", x, dz), drecurrent, dz.sum(axis=(0, 1))


@mutant("rnn.lstm_backward", expect="every step")
def lstm_backward_only_the_last_step(dout, x, kernel, recurrent_kernel, bias, return_sequences=False):
    x, dout = np.asarray(x, dtype=float), np.asarray(dout, dtype=float)
    states, cells, gates = _lstm_run(x, kernel, recurrent_kernel, bias)
    steps, units = x.shape[1], np.shape(recurrent_kernel)[0]
    dz = np.zeros(x.shape[:2] + (4 * units,))
    drecurrent = np.zeros_like(recurrent_kernel)
    dh = dc = 0.0
    for t in reversed(range(steps)):
        i, f, g, o = np.split(gates[t], 4, axis=1)
        if t == steps - 1:  # MISTAKE: with return_sequences, every step's dout should be added
            dh = dh + (dout[:, -1] if return_sequences else dout)
        tanh_c = np.tanh(cells[t + 1])
        dc = dc + dh * o * (1 - tanh_c**2)
        dz[:, t] = np.concatenate(
            [dc * g * i * (1 - i), dc * cells[t] * f * (1 - f), dc * i * (1 - g**2), dh * tanh_c * o * (1 - o)], axis=1
        )
        drecurrent += states[t].T @ dz[:, t]
        dh, dc = dz[:, t] @ recurrent_kernel.T, dc * f
    return dz @ kernel.T, np.einsum("bti,btj->ij", x, dz), drecurrent, dz.sum(axis=(0, 1))


@alternative("rnn.lstm_backward")
def lstm_backward_per_gate_slices(dout, x, kernel, recurrent_kernel, bias, return_sequences=False):
    """Recomputes the forward pass itself and sums each gate's gradients into its own columns."""
    x, dout = np.asarray(x, dtype=float), np.asarray(dout, dtype=float)
    batch, steps, _ = x.shape
    u = np.shape(recurrent_kernel)[0]
    hs, cs, acts = [np.zeros((batch, u))], [np.zeros((batch, u))], []
    for t in range(steps):
        z = x[:, t] @ kernel + hs[-1] @ recurrent_kernel + bias
        a = [sigmoid(z[:, :u]), sigmoid(z[:, u : 2 * u]), np.tanh(z[:, 2 * u : 3 * u]), sigmoid(z[:, 3 * u :])]
        cs.append(a[1] * cs[-1] + a[0] * a[2])
        hs.append(a[3] * np.tanh(cs[-1]))
        acts.append(a)
    dx, dk, dr, db = np.zeros_like(x), np.zeros_like(kernel), np.zeros_like(recurrent_kernel), np.zeros_like(bias)
    dh_next, dc_next = np.zeros((batch, u)), np.zeros((batch, u))
    for t in range(steps - 1, -1, -1):
        i, f, g, o = acts[t]
        dh = dh_next + (dout[:, t] if return_sequences else (dout if t == steps - 1 else 0.0))
        dc = dc_next + dh * o * (1 - np.tanh(cs[t + 1]) ** 2)
        parts = [
            dc * g * i * (1 - i),
            dc * cs[t] * f * (1 - f),
            dc * i * (1 - g * g),
            dh * np.tanh(cs[t + 1]) * o * (1 - o),
        ]
        dh_next = np.zeros((batch, u))
        for k, d in enumerate(parts):
            cols = slice(k * u, (k + 1) * u)
            dk[:, cols] += x[:, t].T @ d
            dr[:, cols] += hs[t].T @ d
            db[cols] += d.sum(axis=0)
            dx[:, t] += d @ kernel[:, cols].T
            dh_next += d @ recurrent_kernel[:, cols].T
        dc_next = dc * f
    return dx, dk, dr, db


# ------------------------------------------------------------------ gru_forward


@mutant("rnn.gru_forward", expect="reset gate was applied before the matmul")
def gru_forward_reset_before_matmul(x, kernel, recurrent_kernel, bias, return_sequences=False):
    x, bias = np.asarray(x, dtype=float), np.asarray(bias)
    units = np.shape(recurrent_kernel)[0]
    h, hs = np.zeros((x.shape[0], units)), []
    for t in range(x.shape[1]):
        a = np.split(x[:, t] @ kernel + bias[0], 3, axis=1)
        b = np.split(h @ recurrent_kernel[:, : 2 * units] + bias[1][: 2 * units], 2, axis=1)
        z, r = sigmoid(a[0] + b[0]), sigmoid(a[1] + b[1])
        hh = np.tanh(a[2] + (r * h) @ recurrent_kernel[:, 2 * units :] + bias[1][2 * units :])  # textbook GRU
        h = z * h + (1 - z) * hh
        hs.append(h)
    return np.stack(hs, axis=1) if return_sequences else h


@mutant("rnn.gru_forward", expect="z and r are swapped")
def gru_forward_gates_r_z_h(x, kernel, recurrent_kernel, bias, return_sequences=False):
    def reorder(w):  # read the blocks as r, z, h
        r, z, h = np.split(np.asarray(w), 3, axis=-1)
        return np.concatenate([z, r, h], axis=-1)

    states, _ = _gru_run(x, reorder(kernel), reorder(recurrent_kernel), reorder(bias))
    return _outputs(states, return_sequences)


@mutant("rnn.gru_forward", expect=r"gru_forward\(")
def gru_forward_update_swapped(x, kernel, recurrent_kernel, bias, return_sequences=False):
    x, bias = np.asarray(x, dtype=float), np.asarray(bias)
    h, hs = np.zeros((x.shape[0], np.shape(recurrent_kernel)[0])), []
    for t in range(x.shape[1]):
        a = np.split(x[:, t] @ kernel + bias[0], 3, axis=1)
        b = np.split(h @ recurrent_kernel + bias[1], 3, axis=1)
        z, r = sigmoid(a[0] + b[0]), sigmoid(a[1] + b[1])
        hh = np.tanh(a[2] + r * b[2])
        h = (1 - z) * h + z * hh  # MISTAKE: Keras keeps z * h + (1 - z) * hh
        hs.append(h)
    return np.stack(hs, axis=1) if return_sequences else h


@mutant("rnn.gru_forward", expect="recurrent bias")
def gru_forward_without_recurrent_bias(x, kernel, recurrent_kernel, bias, return_sequences=False):
    bias = np.asarray(bias)
    states, _ = _gru_run(x, kernel, recurrent_kernel, np.stack([bias[0], np.zeros_like(bias[1])]))
    return _outputs(states, return_sequences)


@alternative("rnn.gru_forward")
def gru_forward_per_gate_slices(x, kernel, recurrent_kernel, bias, return_sequences=False):
    x, bias = np.asarray(x, dtype=float), np.asarray(bias)
    u = np.shape(recurrent_kernel)[0]
    block = lambda w, k: w[..., k * u : (k + 1) * u]  # noqa: E731 - gate k's columns
    h, hs = np.zeros((x.shape[0], u)), []
    for t in range(x.shape[1]):
        xt = x[:, t]
        z = sigmoid(xt @ block(kernel, 0) + block(bias[0], 0) + h @ block(recurrent_kernel, 0) + block(bias[1], 0))
        r = sigmoid(xt @ block(kernel, 1) + block(bias[0], 1) + h @ block(recurrent_kernel, 1) + block(bias[1], 1))
        hh = np.tanh(
            xt @ block(kernel, 2) + block(bias[0], 2) + r * (h @ block(recurrent_kernel, 2) + block(bias[1], 2))
        )
        h = z * h + (1 - z) * hh
        hs.append(h)
    return np.stack(hs, axis=1) if return_sequences else h


# ------------------------------------------------------------------ Embedding layer


@mutant("rnn.Embedding", expect="float")
class EmbeddingIndexingWithFloatIds(Embedding):
    def forward(self, x, training=False):
        self._ids = np.asarray(x)  # float ids from Sequential: IndexError
        return self.weights[0][self._ids]


@mutant("rnn.Embedding", expect="add up")
class EmbeddingAssigningGradients(Embedding):
    def backward(self, dout):
        grad = np.zeros_like(self.weights[0])
        grad[self._ids] = dout  # repeated ids: only the last one is kept
        self.grads = [grad]


@mutant("rnn.Embedding", expect="uniformly")
class EmbeddingNormalInit(Embedding):
    def build(self, input_shape, rng):
        self.weights = [rng.normal(0.0, 0.05, size=(self.input_dim, self.output_dim))]
        self.built = True


@alternative("rnn.Embedding")
class EmbeddingOneHot(Embedding):
    def forward(self, x, training=False):
        self._one_hot = np.eye(self.input_dim)[np.asarray(x).astype(int)]
        return self._one_hot @ self.weights[0]

    def backward(self, dout):
        self.grads = [np.einsum("btv,btd->vd", self._one_hot, dout)]
        return np.zeros(self._one_hot.shape[:2])  # zeros instead of None: also fine for Sequential


# ------------------------------------------------------------------ SimpleRNN layer


@mutant("rnn.SimpleRNN", expect="return_sequences is ignored")
class SimpleRNNIgnoringReturnSequences(SimpleRNN):
    def forward(self, x, training=False):
        self._x = np.asarray(x, dtype=float)
        return simple_rnn_forward(self._x, *self.weights)


@mutant("rnn.SimpleRNN", expect=r"grads\[")
class SimpleRNNWithoutTimeInBackward(SimpleRNN):
    def backward(self, dout):
        kernel, recurrent, _ = self.weights
        steps = self._x.shape[1]
        hs = _simple_rnn_states(self._x, *self.weights)
        dz = np.zeros(self._x.shape[:2] + (self.units,))
        drecurrent = np.zeros_like(recurrent)
        for t in range(steps):  # MISTAKE: no gradient flows from step t+1 back into h_t
            arriving = dout[:, t] if self.return_sequences else (dout if t == steps - 1 else 0.0 * dout)
            dz[:, t] = arriving * (1 - hs[t + 1] ** 2)
            drecurrent += hs[t].T @ dz[:, t]
        self.grads = [np.einsum("bti,btu->iu", self._x, dz), drecurrent, dz.sum(axis=(0, 1))]
        return dz @ kernel.T


@mutant("rnn.SimpleRNN", expect="not orthogonal")
class SimpleRNNGlorotRecurrent(SimpleRNN):
    """The docstring says orthogonal; Glorot uniform (the kernel's initialiser) is used for both."""

    def build(self, input_shape, rng):
        self.weights = [
            glorot_uniform((input_shape[-1], self.units), rng),
            glorot_uniform((self.units, self.units), rng),
            np.zeros(self.units),
        ]
        self.built = True


@mutant("rnn.SimpleRNN", expect="sign convention")
class SimpleRNNOrthogonalWithoutSigns(SimpleRNN):
    """Its own QR initialiser, without q *= sign(diag(r)): orthogonal, but not uniformly random."""

    def build(self, input_shape, rng):
        q, _ = np.linalg.qr(rng.normal(size=(self.units, self.units)))
        self.weights = [glorot_uniform((input_shape[-1], self.units), rng), q, np.zeros(self.units)]
        self.built = True


@mutant("rnn.SimpleRNN", expect="recurrent kernel is used transposed")
class SimpleRNNTransposedRecurrent(SimpleRNN):
    def forward(self, x, training=False):
        kernel, recurrent, bias = self.weights
        self._x = np.asarray(x, dtype=float)
        return simple_rnn_forward(self._x, kernel, recurrent.T, bias, return_sequences=self.return_sequences)


@alternative("rnn.SimpleRNN")
class SimpleRNNWithHandWrittenBackward(SimpleRNN):
    def forward(self, x, training=False):
        kernel, recurrent, bias = self.weights
        self._x = np.asarray(x, dtype=float)
        h = np.zeros((x.shape[0], self.units))
        self._hs = [h]
        for t in range(x.shape[1]):
            h = np.tanh(self._x[:, t] @ kernel + h @ recurrent + bias)
            self._hs.append(h)
        return np.stack(self._hs[1:], axis=1) if self.return_sequences else h

    def backward(self, dout):
        kernel, recurrent, _ = self.weights
        steps = self._x.shape[1]
        grads = [np.zeros_like(w) for w in self.weights]
        dx = np.zeros_like(self._x)
        dh = np.zeros((self._x.shape[0], self.units))
        for t in reversed(range(steps)):
            if self.return_sequences:
                dh = dh + dout[:, t]
            elif t == steps - 1:
                dh = dh + dout
            dz = dh * (1 - self._hs[t + 1] ** 2)
            grads[0] += self._x[:, t].T @ dz
            grads[1] += self._hs[t].T @ dz
            grads[2] += dz.sum(axis=0)
            dx[:, t] = dz @ kernel.T
            dh = dz @ recurrent.T
        self.grads = grads
        return dx


# ------------------------------------------------------------------ LSTM layer


@mutant("rnn.LSTM", expect="forget gate")
class LSTMWithoutForgetBias(LSTM):
    def build(self, input_shape, rng):
        super().build(input_shape, rng)
        self.weights[2] = np.zeros(4 * self.units)


@mutant("rnn.LSTM", expect="orthogonal")
class LSTMGlorotRecurrent(LSTM):
    def build(self, input_shape, rng):
        super().build(input_shape, rng)
        self.weights[1] = glorot_uniform((self.units, 4 * self.units), rng)


@mutant("rnn.LSTM", expect="grads must hold 3 arrays")
class LSTMForgettingGrads(LSTM):
    def backward(self, dout):
        dx, dkernel, drecurrent, dbias = lstm_backward(dout, self._x, *self.weights, self.return_sequences)
        return dx  # MISTAKE: self.grads never filled, the optimizer has nothing to apply


@alternative("rnn.LSTM")
class LSTMRecomputingInBackward(LSTM):
    def forward(self, x, training=False):
        self._x = np.asarray(x, dtype=float)
        return lstm_forward(self._x, *self.weights, return_sequences=self.return_sequences)

    def backward(self, dout):
        dx, *self.grads = lstm_backward(dout, self._x, *self.weights, return_sequences=self.return_sequences)
        return dx


# ------------------------------------------------------------------ GRU layer


@mutant("rnn.GRU", expect=r"weight 2 has shape \(15,\)")
class GRUWithOneBiasRow(GRU):
    def build(self, input_shape, rng):
        super().build(input_shape, rng)
        self.weights[2] = np.zeros(3 * self.units)


@mutant("rnn.GRU", expect="initialises it with initializers.Orthogonal")
class GRUGlorotRecurrent(GRU):
    def build(self, input_shape, rng):
        super().build(input_shape, rng)
        self.weights[1] = glorot_uniform((self.units, 3 * self.units), rng)


@alternative("rnn.GRU")
class GRURecomputingInBackward(GRU):
    def forward(self, x, training=False):
        self._x = np.asarray(x, dtype=float)
        return gru_forward(self._x, *self.weights, return_sequences=self.return_sequences)


# ------------------------------------------------------------------ capstones (their target: LSTM)


@mutant("rnn.text_classifier", expect="parameters")
class LSTMWithoutBias(LSTM):
    def build(self, input_shape, rng):
        super().build(input_shape, rng)
        self.weights = self.weights[:2]  # MISTAKE: no bias, 256 parameters short

    def forward(self, x, training=False):
        self._x = np.asarray(x, dtype=float)
        return lstm_forward(self._x, *self.weights, np.zeros(4 * self.units), return_sequences=self.return_sequences)

    def backward(self, dout):
        dx, dkernel, drecurrent, _ = lstm_backward(
            dout, self._x, *self.weights, np.zeros(4 * self.units), return_sequences=self.return_sequences
        )
        self.grads = [dkernel, drecurrent]
        return dx


@mutant("rnn.text_classifier", expect=r"layer 2, LSTM.*backward pass")
class LSTMDroppingTheCellPath(LSTM):
    def backward(self, dout):
        kernel, recurrent_kernel, _ = self.weights
        x, (states, cells, gates) = self._x, self._run
        steps = x.shape[1]
        dz = np.zeros(x.shape[:2] + (4 * self.units,))
        drecurrent = np.zeros_like(recurrent_kernel)
        dh = 0.0
        for t in reversed(range(steps)):
            i, f, g, o = np.split(gates[t], 4, axis=1)
            dh = dh + (dout[:, t] if self.return_sequences else (dout if t == steps - 1 else 0.0))
            tanh_c = np.tanh(cells[t + 1])
            dc = dh * o * (1 - tanh_c**2)  # MISTAKE: the dc carried from step t+1 is missing
            dz[:, t] = np.concatenate(
                [dc * g * i * (1 - i), dc * cells[t] * f * (1 - f), dc * i * (1 - g**2), dh * tanh_c * o * (1 - o)],
                axis=1,
            )
            drecurrent += states[t].T @ dz[:, t]
            dh = dz[:, t] @ recurrent_kernel.T
        self.grads = [np.einsum("bti,btj->ij", x, dz), drecurrent, dz.sum(axis=(0, 1))]
        return dz @ kernel.T


@alternative("rnn.text_classifier")
class LSTMWithFusedMatmul(LSTM):
    def forward(self, x, training=False):
        kernel, recurrent_kernel, bias = self.weights
        self._x = np.asarray(x, dtype=float)
        stacked = np.vstack([kernel, recurrent_kernel])
        h = c = np.zeros((x.shape[0], self.units))
        hs = []
        for t in range(x.shape[1]):
            i, f, g, o = np.split(np.concatenate([self._x[:, t], h], axis=1) @ stacked + bias, 4, axis=1)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
            hs.append(h)
        return np.stack(hs, axis=1) if self.return_sequences else h

    def backward(self, dout):
        dx, *self.grads = lstm_backward(dout, self._x, *self.weights, return_sequences=self.return_sequences)
        return dx


@mutant("rnn.remembers", expect=r"layer 2, LSTM.*backward pass")
class LSTMTruncatedToOneStep(LSTM):
    """BPTT cut at every step: no gradient reaches earlier steps, through h or through c."""

    def backward(self, dout):
        kernel, _, _ = self.weights
        x, (states, cells, gates) = self._x, self._run
        steps = x.shape[1]
        dz = np.zeros(x.shape[:2] + (4 * self.units,))
        for t in range(steps):
            i, f, g, o = np.split(gates[t], 4, axis=1)
            dh = dout[:, t] if self.return_sequences else (dout if t == steps - 1 else 0.0 * dout)
            tanh_c = np.tanh(cells[t + 1])
            dc = dh * o * (1 - tanh_c**2)
            dz[:, t] = np.concatenate(
                [dc * g * i * (1 - i), dc * cells[t] * f * (1 - f), dc * i * (1 - g**2), dh * tanh_c * o * (1 - o)],
                axis=1,
            )
        self.grads = [np.einsum("bti,btj->ij", x, dz), np.einsum("tbi,btj->ij", states[:-1], dz), dz.sum(axis=(0, 1))]
        return dz @ kernel.T


@alternative("rnn.remembers")
class LSTMRecomputingEverything(LSTM):
    def forward(self, x, training=False):
        self._x = np.asarray(x, dtype=float)
        return lstm_forward(self._x, *self.weights, return_sequences=self.return_sequences)

    def backward(self, dout):
        dx, *self.grads = lstm_backward(dout, self._x, *self.weights, return_sequences=self.return_sequences)
        return dx


@mutant("rnn.forecast", expect=r"layer 1, SimpleRNN.*backward pass")
class SimpleRNNForecastWithoutTime(SimpleRNN):
    def backward(self, dout):
        kernel, recurrent, _ = self.weights
        steps = self._x.shape[1]
        hs = _simple_rnn_states(self._x, *self.weights)
        dz = np.zeros(self._x.shape[:2] + (self.units,))
        drecurrent = np.zeros_like(recurrent)
        for t in range(steps):  # MISTAKE: the gradient does not flow back through h
            arriving = dout[:, t] if self.return_sequences else (dout if t == steps - 1 else 0.0 * dout)
            dz[:, t] = arriving * (1 - hs[t + 1] ** 2)
            drecurrent += hs[t].T @ dz[:, t]
        self.grads = [np.einsum("bti,btu->iu", self._x, dz), drecurrent, dz.sum(axis=(0, 1))]
        return dz @ kernel.T


@alternative("rnn.forecast")
class SimpleRNNForecastWithStoredStates(SimpleRNN):
    def forward(self, x, training=False):
        self._x = np.asarray(x, dtype=float)
        self._states = _simple_rnn_states(self._x, *self.weights)
        return _outputs(self._states, self.return_sequences)

    def backward(self, dout):
        kernel, recurrent, _ = self.weights
        steps = self._x.shape[1]
        grads = [np.zeros_like(w) for w in self.weights]
        dx = np.zeros_like(self._x)
        dh = 0.0
        for t in range(steps - 1, -1, -1):
            dh = dh + (dout[:, t] if self.return_sequences else (dout if t == steps - 1 else 0.0))
            dz = dh * (1 - self._states[t + 1] ** 2)
            grads[0] += self._x[:, t].T @ dz
            grads[1] += self._states[t].T @ dz
            grads[2] += dz.sum(axis=0)
            dx[:, t] = dz @ kernel.T
            dh = dz @ recurrent.T
        self.grads = grads
        return dx


# ---- blind sweep (issue 24, round 3): written from the answer key, before reading the kata's tests


@mutant("rnn.embedding_backward", expect=r"writes each repeated row once; accumulate with np\.add\.at")
def embedding_backward_with_fancy_index_add(dout, ids, vocab_size):
    # MISTAKE: grad[ids] += dout writes each repeated id once (the last wins) instead of adding them up.
    dout = np.asarray(dout, dtype=np.float64)
    grad = np.zeros((vocab_size, dout.shape[-1]))
    grad[np.asarray(ids, dtype=np.int64)] += dout
    return grad


@mutant("rnn.lstm_backward", expect=r"with return_sequences=True, dout hold")
def lstm_backward_only_from_the_last_step(dout, x, kernel, recurrent_kernel, bias, return_sequences=False):
    # MISTAKE: with return_sequences=True only the last step's gradient goes in; the others are dropped.
    x = np.asarray(x, dtype=np.float64)
    kernel, recurrent_kernel, bias = (np.asarray(a, dtype=np.float64) for a in (kernel, recurrent_kernel, bias))
    dout = np.asarray(dout, dtype=np.float64)
    run = _lstm_run(x, kernel, recurrent_kernel, bias)
    return _lstm_bptt(dout[:, -1] if return_sequences else dout, x, kernel, recurrent_kernel, run, False)


@mutant("rnn.gru_forward", expect=r"the reset gate was applied before the matmul")
def gru_forward_reset_before(x, kernel, recurrent_kernel, bias, return_sequences=False):
    # MISTAKE: the reset gate applied to h before the recurrent product (reset_after=False, the paper's GRU).
    x = np.asarray(x, dtype=np.float64)
    kernel, recurrent_kernel, bias = (np.asarray(a, dtype=np.float64) for a in (kernel, recurrent_kernel, bias))
    units = recurrent_kernel.shape[0]
    h = np.zeros((x.shape[0], units))
    outputs = []
    for t in range(x.shape[1]):
        xz, xr, xh = np.split(x[:, t] @ kernel + bias[0], 3, axis=1)
        uz, ur, uh = np.split(recurrent_kernel, 3, axis=1)
        bz, br, bh = np.split(bias[1], 3)
        z = sigmoid(xz + h @ uz + bz)
        r = sigmoid(xr + h @ ur + br)
        candidate = np.tanh(xh + (r * h) @ uh + bh)
        h = z * h + (1.0 - z) * candidate
        outputs.append(h)
    return np.stack(outputs, axis=1) if return_sequences else h


@mutant("rnn.LSTM", expect=r"unit_forget_bias=True")
class LSTMWithoutUnitForgetBias(LSTM):
    # MISTAKE: every bias zero; Keras's LSTM starts the forget gate's bias at 1 (unit_forget_bias=True).
    def build(self, input_shape, rng):
        self.weights = _recurrent_weights(input_shape, self.units, 4, np.zeros(4 * self.units), rng)
        self.built = True


@alternative("rnn.lstm_cell_forward")
def lstm_cell_forward_gate_by_gate(x_t, h, c, kernel, recurrent_kernel, bias):
    x_t, h, c = (np.asarray(a, dtype=float) for a in (x_t, h, c))
    kernel, recurrent_kernel, bias = (np.asarray(a, dtype=float) for a in (kernel, recurrent_kernel, bias))
    units = recurrent_kernel.shape[0]

    def gate(k):
        block = slice(k * units, (k + 1) * units)
        return x_t @ kernel[:, block] + h @ recurrent_kernel[:, block] + bias[block]

    c_t = sigmoid(gate(1)) * c + sigmoid(gate(0)) * np.tanh(gate(2))
    return sigmoid(gate(3)) * np.tanh(c_t), c_t


# second blind batch: the layers


@mutant("rnn.SimpleRNN", expect=r"SimpleRNN\(5, return_sequences=True\).*backward\(dout \(3, 6, 5\)\)")
class SimpleRNNBackwardFromTheLastStepOnly(SimpleRNN):
    # MISTAKE: with return_sequences=True, backward keeps only the last step's gradient.
    def backward(self, dout):
        dout = np.asarray(dout, dtype=np.float64)
        last = dout[:, -1] if self.return_sequences else dout
        dx, *self.grads = simple_rnn_backward(last, self._x, *self.weights, return_sequences=False)
        return dx
