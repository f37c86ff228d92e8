"""Sequences: the answer key (Embedding, SimpleRNN, LSTM, GRU), following Keras 3.

Shapes use Keras's words: inputs are ``(batch, timesteps, features)``; a
recurrent layer with ``units`` outputs ``(batch, units)`` (the last state) or,
with ``return_sequences=True``, ``(batch, timesteps, units)``. Weights are
stored as Keras stores them (``layer.get_weights()``):

* SimpleRNN: kernel ``(features, units)``, recurrent kernel ``(units, units)``, bias ``(units,)``;
* LSTM: kernel ``(features, 4*units)``, recurrent kernel ``(units, 4*units)``,
  bias ``(4*units,)``, the four column blocks in gate order i, f, c, o;
* GRU (``reset_after=True``): kernel ``(features, 3*units)``, recurrent kernel
  ``(units, 3*units)``, bias ``(2, 3*units)`` (row 0 for the input, row 1 for
  the recurrent product), blocks in gate order z, r, h.

The initial state is zeros, as in Keras when no ``initial_state`` is given.
"""

from __future__ import annotations

import numpy as np

from .activations import sigmoid
from .backprop import glorot_uniform
from .model import Layer

# ----------------------------------------------------------------- embedding


def embedding_forward(ids, table):
    """Row ``ids[...]`` of ``table``: ids ``(batch, timesteps)`` ints -> ``(batch, timesteps, output_dim)``."""
    return np.asarray(table, dtype=np.float64)[np.asarray(ids, dtype=np.int64)]


def embedding_backward(dout, ids, vocab_size):
    """d loss / d table: each row receives the sum of the gradients of every position that used it.

    ``np.add.at`` accumulates over repeated ids; ``grad[ids] += dout`` would
    not (with fancy indexing, each repeated index is written once, the last wins).
    """
    dout = np.asarray(dout, dtype=np.float64)
    grad = np.zeros((vocab_size, dout.shape[-1]))
    np.add.at(grad, np.asarray(ids, dtype=np.int64), dout)
    return grad


# ----------------------------------------------------------------- SimpleRNN


def _simple_rnn_states(x, kernel, recurrent_kernel, bias):
    """All states ``h_0 .. h_T`` (``h_0`` = zeros), shape ``(T + 1, batch, units)``."""
    x = np.asarray(x, dtype=np.float64)
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    projected = x @ kernel + bias  # the input part of every step at once: (batch, T, units)
    states = np.zeros((steps + 1, batch, units))
    for t in range(steps):
        states[t + 1] = np.tanh(projected[:, t] + states[t] @ recurrent_kernel)
    return states


def _outputs(states, return_sequences):
    """(T + 1, batch, units) states -> the layer output, as Keras returns it."""
    return np.transpose(states[1:], (1, 0, 2)) if return_sequences else states[-1]


def simple_rnn_forward(x, kernel, recurrent_kernel, bias, return_sequences=False):
    """``h_t = tanh(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``, ``h_0 = 0``."""
    kernel, recurrent_kernel, bias = (np.asarray(a, dtype=np.float64) for a in (kernel, recurrent_kernel, bias))
    return _outputs(_simple_rnn_states(x, kernel, recurrent_kernel, bias), return_sequences)


def _per_step(dout, steps, return_sequences):
    """The gradient arriving from above at each step, ``(T, batch, units)``."""
    if return_sequences:
        return np.transpose(dout, (1, 0, 2))
    arriving = np.zeros((steps,) + dout.shape)
    arriving[-1] = dout  # only the last state was returned
    return arriving


def simple_rnn_backward(dout, x, kernel, recurrent_kernel, bias, return_sequences=False):
    """BPTT for SimpleRNN: ``(dx, dkernel, drecurrent_kernel, dbias)``."""
    x = np.asarray(x, dtype=np.float64)
    states = _simple_rnn_states(x, kernel, recurrent_kernel, bias)
    steps = x.shape[1]
    arriving = _per_step(np.asarray(dout, dtype=np.float64), steps, return_sequences)
    dz = np.empty((x.shape[0], steps, recurrent_kernel.shape[0]))
    drecurrent = np.zeros_like(recurrent_kernel)
    dh = np.zeros_like(states[0])
    for t in reversed(range(steps)):
        dh = dh + arriving[t]
        dz_t = dh * (1.0 - states[t + 1] ** 2)  # through tanh
        dz[:, t] = dz_t
        drecurrent += states[t].T @ dz_t
        dh = dz_t @ recurrent_kernel.T  # into h_{t-1}
    return dz @ kernel.T, np.einsum("bti,btu->iu", x, dz), drecurrent, dz.sum(axis=(0, 1))


# ---------------------------------------------------------------------- LSTM


def lstm_cell_forward(x_t, h, c, kernel, recurrent_kernel, bias):
    """One LSTM step; returns ``(h_t, c_t)``. Gate order in the weight columns: i, f, c, o."""
    z = np.asarray(x_t, dtype=np.float64) @ kernel + np.asarray(h, dtype=np.float64) @ recurrent_kernel + bias
    i, f, g, o = np.split(z, 4, axis=-1)
    c_t = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c_t), c_t


def _lstm_run(x, kernel, recurrent_kernel, bias):
    """Forward over the sequence, keeping what BPTT needs.

    Returns ``states`` and ``cells`` of shape ``(T + 1, batch, units)`` (index 0
    is the zero initial state) and ``gates`` ``(T, batch, 4*units)`` holding the
    activated i, f, g (= tanh of the c block), o.
    """
    x = np.asarray(x, dtype=np.float64)
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    projected = x @ kernel + bias  # (batch, T, 4*units): the input part of every step, one matmul
    states = np.zeros((steps + 1, batch, units))
    cells = np.zeros((steps + 1, batch, units))
    gates = np.empty((steps, batch, 4 * units))
    for t in range(steps):
        z = projected[:, t] + states[t] @ recurrent_kernel
        sig = sigmoid(z)
        i, f, o = sig[:, :units], sig[:, units : 2 * units], sig[:, 3 * units :]
        g = np.tanh(z[:, 2 * units : 3 * units])
        cells[t + 1] = f * cells[t] + i * g
        states[t + 1] = o * np.tanh(cells[t + 1])
        gates[t] = np.concatenate([i, f, g, o], axis=1)
    return states, cells, gates


def lstm_forward(x, kernel, recurrent_kernel, bias, return_sequences=False):
    """A Keras LSTM layer's output for ``x`` ``(batch, timesteps, features)``."""
    kernel, recurrent_kernel, bias = (np.asarray(a, dtype=np.float64) for a in (kernel, recurrent_kernel, bias))
    states, _, _ = _lstm_run(x, kernel, recurrent_kernel, bias)
    return _outputs(states, return_sequences)


def _lstm_bptt(dout, x, kernel, recurrent_kernel, run, return_sequences):
    states, cells, gates = run
    steps = x.shape[1]
    units = recurrent_kernel.shape[0]
    arriving = _per_step(np.asarray(dout, dtype=np.float64), steps, return_sequences)
    dz = np.empty((x.shape[0], steps, 4 * units))
    drecurrent = np.zeros_like(recurrent_kernel)
    dh = np.zeros_like(states[0])
    dc = np.zeros_like(cells[0])
    for t in reversed(range(steps)):
        i, f, g, o = np.split(gates[t], 4, axis=1)
        dh = dh + arriving[t]
        tanh_c = np.tanh(cells[t + 1])
        # c_t reaches the loss through h_t (this step) and through c_{t+1} (dc from the future).
        dc = dc + dh * o * (1.0 - tanh_c**2)
        dz_t = np.concatenate(
            [
                dc * g * i * (1.0 - i),  # input gate, through sigmoid
                dc * cells[t] * f * (1.0 - f),  # forget gate
                dc * i * (1.0 - g**2),  # candidate, through tanh
                dh * tanh_c * o * (1.0 - o),  # output gate
            ],
            axis=1,
        )
        dz[:, t] = dz_t
        drecurrent += states[t].T @ dz_t
        dh = dz_t @ recurrent_kernel.T  # into h_{t-1}
        dc = dc * f  # into c_{t-1}
    dx = dz @ kernel.T
    return dx, np.einsum("bti,btj->ij", x, dz), drecurrent, dz.sum(axis=(0, 1))


def lstm_backward(dout, x, kernel, recurrent_kernel, bias, return_sequences=False):
    """BPTT through a Keras LSTM: ``(dx, dkernel, drecurrent_kernel, dbias)``.

    ``dout`` is d loss / d output: ``(batch, units)``, or ``(batch, timesteps, units)``
    with ``return_sequences=True``.
    """
    x = np.asarray(x, dtype=np.float64)
    kernel, recurrent_kernel, bias = (np.asarray(a, dtype=np.float64) for a in (kernel, recurrent_kernel, bias))
    run = _lstm_run(x, kernel, recurrent_kernel, bias)
    return _lstm_bptt(dout, x, kernel, recurrent_kernel, run, return_sequences)


# ----------------------------------------------------------------------- GRU


def _gru_run(x, kernel, recurrent_kernel, bias):
    """Forward of a Keras GRU (reset_after=True). States ``(T + 1, batch, units)`` and a cache per step."""
    x = np.asarray(x, dtype=np.float64)
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    projected = x @ kernel + bias[0]  # (batch, T, 3*units)
    states = np.zeros((steps + 1, batch, units))
    cache = []
    for t in range(steps):
        inner = states[t] @ recurrent_kernel + bias[1]  # the recurrent product, reset applied *after* it
        xz, xr, xh = np.split(projected[:, t], 3, axis=1)
        rz, rr, rh = np.split(inner, 3, axis=1)
        z = sigmoid(xz + rz)
        r = sigmoid(xr + rr)
        hh = np.tanh(xh + r * rh)
        states[t + 1] = z * states[t] + (1.0 - z) * hh
        cache.append((z, r, hh, rh))
    return states, cache


def gru_forward(x, kernel, recurrent_kernel, bias, return_sequences=False):
    """A Keras GRU (``reset_after=True``): gates z, r, h; bias ``(2, 3*units)``.

    ``h_t = z * h_{t-1} + (1 - z) * tanh(x_h + r * (h_{t-1} @ U_h + b_rh))``.
    """
    kernel, recurrent_kernel, bias = (np.asarray(a, dtype=np.float64) for a in (kernel, recurrent_kernel, bias))
    states, _ = _gru_run(x, kernel, recurrent_kernel, bias)
    return _outputs(states, return_sequences)


def gru_backward(dout, x, kernel, recurrent_kernel, bias, return_sequences=False):
    """BPTT through a Keras GRU: ``(dx, dkernel, drecurrent_kernel, dbias)``, dbias ``(2, 3*units)``."""
    x = np.asarray(x, dtype=np.float64)
    states, cache = _gru_run(x, kernel, recurrent_kernel, bias)
    steps = x.shape[1]
    units = recurrent_kernel.shape[0]
    arriving = _per_step(np.asarray(dout, dtype=np.float64), steps, return_sequences)
    dprojected = np.empty((x.shape[0], steps, 3 * units))
    drecurrent = np.zeros_like(recurrent_kernel)
    dinner_bias = np.zeros(3 * units)
    dh = np.zeros_like(states[0])
    for t in reversed(range(steps)):
        z, r, hh, rh = cache[t]
        dh = dh + arriving[t]
        dhh = dh * (1.0 - z) * (1.0 - hh**2)  # into the candidate's pre-activation
        dzz = dh * (states[t] - hh) * z * (1.0 - z)  # update gate
        drr = dhh * rh * r * (1.0 - r)  # reset gate
        dprojected[:, t] = np.concatenate([dzz, drr, dhh], axis=1)
        dinner = np.concatenate([dzz, drr, dhh * r], axis=1)
        drecurrent += states[t].T @ dinner
        dinner_bias += dinner.sum(axis=0)
        dh = dh * z + dinner @ recurrent_kernel.T
    dbias = np.stack([dprojected.sum(axis=(0, 1)), dinner_bias])
    return dprojected @ kernel.T, np.einsum("bti,btj->ij", x, dprojected), drecurrent, dbias


# -------------------------------------------------------------- initialisers


def orthogonal(shape, rng):
    """Keras's ``Orthogonal``: a random matrix with orthonormal rows (or columns, whichever fit)."""
    rows, cols = shape
    a = rng.normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the distribution uniform over orthogonal matrices
    return q.T if rows < cols else q


# -------------------------------------------------------------------- layers


def _as_ids(x):
    """Token ids as integers, even when a model handed them over as floats."""
    x = np.asarray(x)
    if x.dtype.kind == "f":
        ids = np.rint(x).astype(np.int64)
        if not np.array_equal(ids, x):
            raise ValueError("Embedding expects integer token ids; received non-integer values")
        return ids
    return x.astype(np.int64)


class Embedding(Layer):
    """A lookup table: id ``k`` -> row ``k`` of ``embeddings`` ``(input_dim, output_dim)``.

    Input shape: ``(batch, timesteps)`` ints. Output shape: ``(batch, timesteps, output_dim)``.
    Initialised uniform in ``[-0.05, 0.05]`` (Keras's default for Embedding).
    ``backward`` fills ``grads`` and returns None: ids are integers, no gradient flows into them.

    Keras hands this gradient to its optimizer as ``tf.IndexedSlices`` (one row per occurrence of
    an id); its Adam and RMSprop square each occurrence before summing repeated ids, where this
    dense gradient is squared after summing. The two agree when no id repeats within a batch (and
    always for SGD); the parity tests use such batches.
    """

    def __init__(self, input_dim, output_dim, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)

    def build(self, input_shape, rng):
        self.weights = [rng.uniform(-0.05, 0.05, size=(self.input_dim, self.output_dim))]
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def forward(self, x, training=False):
        self._ids = _as_ids(x)
        if self._ids.size and (self._ids.min() < 0 or self._ids.max() >= self.input_dim):
            raise ValueError(
                f"Embedding ids must be in [0, {self.input_dim}); "
                f"received ids from {self._ids.min()} to {self._ids.max()}"
            )
        return embedding_forward(self._ids, self.weights[0])

    def backward(self, dout):
        self.grads = [embedding_backward(dout, self._ids, self.input_dim)]
        return None


def _recurrent_weights(input_shape, units, gates, bias, rng):
    """Keras's initial weights of a recurrent layer with ``gates`` blocks of ``units`` columns:
    kernel glorot_uniform, recurrent kernel orthogonal, and the given bias."""
    width = gates * units
    return [glorot_uniform((input_shape[-1], width), rng), orthogonal((units, width), rng), bias]


class _Recurrent(Layer):
    """What SimpleRNN, LSTM and GRU share (solved): ``units``, ``return_sequences``, the output shape."""

    def __init__(self, units, return_sequences=False, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        if not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(
                f"Received an invalid value for argument `units`, expected a positive integer, received units={units}"
            )
        self.units = int(units)
        self.return_sequences = bool(return_sequences)

    def compute_output_shape(self, input_shape):
        steps = input_shape[0]
        return (steps, self.units) if self.return_sequences else (self.units,)


class SimpleRNN(_Recurrent):
    """``h_t = tanh(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``; weights as Keras."""

    def build(self, input_shape, rng):
        self.weights = _recurrent_weights(input_shape, self.units, 1, np.zeros(self.units), rng)
        self.built = True

    def forward(self, x, training=False):
        self._x = np.asarray(x, dtype=np.float64)
        return simple_rnn_forward(self._x, *self.weights, return_sequences=self.return_sequences)

    def backward(self, dout):
        dx, *self.grads = simple_rnn_backward(dout, self._x, *self.weights, return_sequences=self.return_sequences)
        return dx


class LSTM(_Recurrent):
    """A Keras LSTM: gates i, f, c, o; kernel glorot-uniform, recurrent kernel orthogonal,
    bias zeros except the forget gate's, which starts at 1 (``unit_forget_bias=True``)."""

    def build(self, input_shape, rng):
        bias = np.zeros(4 * self.units)
        bias[self.units : 2 * self.units] = 1.0
        self.weights = _recurrent_weights(input_shape, self.units, 4, bias, rng)
        self.built = True

    def forward(self, x, training=False):
        self._x = np.asarray(x, dtype=np.float64)
        self._run = _lstm_run(self._x, *self.weights)
        return _outputs(self._run[0], self.return_sequences)

    def backward(self, dout):
        kernel, recurrent_kernel, _ = self.weights
        dx, *self.grads = _lstm_bptt(dout, self._x, kernel, recurrent_kernel, self._run, self.return_sequences)
        return dx


class GRU(_Recurrent):
    """A Keras GRU with ``reset_after=True``: gates z, r, h; bias ``(2, 3*units)``, zeros."""

    def build(self, input_shape, rng):
        self.weights = _recurrent_weights(input_shape, self.units, 3, np.zeros((2, 3 * self.units)), rng)
        self.built = True

    def forward(self, x, training=False):
        self._x = np.asarray(x, dtype=np.float64)
        return gru_forward(self._x, *self.weights, return_sequences=self.return_sequences)

    def backward(self, dout):
        dx, *self.grads = gru_backward(dout, self._x, *self.weights, return_sequences=self.return_sequences)
        return dx
