"""Sequences: words as vectors, and layers that remember.

A sentence is a sequence of token ids, ``[12, 7, 7, 301]``. An **Embedding**
turns each id into a learned vector; a **recurrent layer** then reads the
vectors one step at a time, carrying a *state* from step to step, so that what
it saw earlier changes what it computes later ("not" ... "good").

Shapes, in Keras's words:

* ids: ``(batch, timesteps)`` integers;
* a sequence of vectors: ``(batch, timesteps, features)``;
* a recurrent layer with ``units`` returns ``(batch, units)`` (its last state)
  or, with ``return_sequences=True``, ``(batch, timesteps, units)`` (every state).

Weights are stored exactly as Keras stores them (``layer.get_weights()``),
with the gates side by side in one matrix:

=========  ======================  ======================  ====================  ===========
layer      kernel                  recurrent_kernel        bias                  gate blocks
=========  ======================  ======================  ====================  ===========
SimpleRNN  ``(features, units)``   ``(units, units)``      ``(units,)``          —
LSTM       ``(features, 4*units)`` ``(units, 4*units)``    ``(4*units,)``        i, f, c, o
GRU        ``(features, 3*units)`` ``(units, 3*units)``    ``(2, 3*units)``      z, r, h
=========  ======================  ======================  ====================  ===========

Every layer starts from a zero state (``h_0 = 0``, ``c_0 = 0``), as Keras does.

The reference is a Keras layer run live in float64; when Keras and you
disagree, Keras's source is the specification:
``keras/src/layers/rnn/{simple_rnn,lstm,gru}.py``.
"""

from __future__ import annotations

import numpy as np

from .activations import sigmoid, tanh
from .backprop import glorot_uniform
from .model import Layer

# ------------------------------------------------------------------ solved example


def orthogonal(shape, rng):
    """Keras's ``Orthogonal`` initialiser (solved for you): a random matrix with orthonormal rows or columns.

    Keras starts every recurrent kernel this way. Multiplying a state by an
    orthogonal matrix keeps its length, so at the start of training the state
    neither explodes nor vanishes as it is multiplied step after step.

    Recipe: take a random normal matrix, QR-decompose it (Q has orthonormal
    columns), fix the signs so that the result is uniformly random, and
    transpose when there are fewer rows than columns.

    Example:
        >>> R = orthogonal((4, 16), np.random.default_rng(0))   # an LSTM(4)'s recurrent kernel
        >>> np.allclose(R @ R.T, np.eye(4))
        True
    """
    rows, cols = shape
    a = rng.normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    return q.T if rows < cols else q


# ------------------------------------------------------------------ kata rnn.embedding_forward


def embedding_forward(ids, table):
    """Look up each id's row of the table.

    An embedding is a learned lookup table: row ``k`` of ``table`` is the
    vector of token ``k``. Keras's ``Embedding`` layer does exactly this (it is
    the same as multiplying a one-hot vector by the table, without building
    the one-hot vector).

    Args:
        ids: ``(batch, timesteps)`` integers in ``[0, input_dim)``.
        table: ``(input_dim, output_dim)``, the layer's ``embeddings`` weight.

    Returns:
        ``(batch, timesteps, output_dim)``: ``out[b, t] = table[ids[b, t]]``.

    Example:
        table = [[0.0, 0.0],        ids = [[1, 3, 3]]   ->   [[[0.1, 0.2],
                 [0.1, 0.2],                                    [0.5, 0.6],
                 [0.3, 0.4],                                    [0.5, 0.6]]]
                 [0.5, 0.6]]
    """
    # TODO: kata rnn.embedding_forward
    raise NotImplementedError("kata rnn.embedding_forward")


# ------------------------------------------------------------------ kata rnn.embedding_backward


def embedding_backward(dout, ids, vocab_size):
    """The gradient of the loss with respect to the embedding table.

    Row ``k`` of the table was used at every position where ``ids == k``, so
    it receives the **sum** of ``dout`` over those positions. Rows never used
    get zeros. Careful: ``grad[ids] += dout`` writes a repeated row only once
    (NumPy evaluates ``grad[ids]`` once, then assigns); use ``np.add.at``,
    which accumulates.

    Args:
        dout: ``(batch, timesteps, output_dim)``, d loss / d output.
        ids: ``(batch, timesteps)`` the ids of the forward pass.
        vocab_size: ``input_dim``, the number of rows of the table.

    Returns:
        ``(vocab_size, output_dim)``.

    Example:
        ids = [[2, 2]], dout = [[[1.0], [3.0]]], vocab_size=3  ->  [[0.], [0.], [4.]]
    """
    # TODO: kata rnn.embedding_backward
    raise NotImplementedError("kata rnn.embedding_backward")


# ------------------------------------------------------------------ kata rnn.simple_rnn_forward


def simple_rnn_forward(x, kernel, recurrent_kernel, bias, return_sequences=False):
    """Keras's ``SimpleRNN``: a Dense layer that also sees its own previous output.

    ::

        h_0 = 0
        h_t = tanh(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)     t = 1 .. timesteps

                 x_1          x_2          x_3
                  |            |            |
        h_0 --> [cell] --h_1-> [cell] --h_2-> [cell] --> h_3   (the output, or all of h_1..h_3)

    The same three weights are used at every step.

    Args:
        x: ``(batch, timesteps, features)``.
        kernel: ``(features, units)``; recurrent_kernel: ``(units, units)``; bias: ``(units,)``.
        return_sequences: return every ``h_t`` instead of the last one.

    Returns:
        ``(batch, units)``, or ``(batch, timesteps, units)`` with ``return_sequences=True``.

    Example (one feature, one unit, kernel 0.5, recurrent -1, bias 0.1, x = [1, 2]):
        h_1 = tanh(0.5 + 0.1) = 0.537;  h_2 = tanh(1.0 - 0.537 + 0.1) = 0.510
    """
    # TODO: kata rnn.simple_rnn_forward
    raise NotImplementedError("kata rnn.simple_rnn_forward")


# ------------------------------------------------------------------ kata rnn.lstm_cell_forward


def lstm_cell_forward(x_t, h, c, kernel, recurrent_kernel, bias):
    """One step of Keras's LSTM: returns ``(h_t, c_t)``.

    An LSTM keeps two states: ``h`` (what it shows, its output) and ``c`` (a
    *cell* of memory that gates write to, keep, and read from)::

        z = x_t @ kernel + h @ recurrent_kernel + bias        (batch, 4*units)
        z -> four blocks of `units` columns, in Keras's order  i, f, c, o
        i = sigmoid(z_i)        input gate: how much new content to write
        f = sigmoid(z_f)        forget gate: how much old memory to keep
        g = tanh(z_c)           the candidate content
        o = sigmoid(z_o)        output gate: how much of the memory to show
        c_t = f * c + i * g
        h_t = o * tanh(c_t)

    The cell, drawn::

                    c ----------(x)---------(+)-------------------> c_t
                                 ^           ^         |
                                 f      i --(x)-- g   tanh
                                 |           |         |
                               [sig]  [sig] [tanh]    (x)<--- o = [sig]
                                 |      |     |        |
        [x_t, h] ----------------+------+-----+--------+------> h_t = o * tanh(c_t)

    Gates use the *recurrent activation*, a sigmoid (0..1, a soft switch);
    only the candidate and the read-out use tanh. Some courses order the
    blocks i, f, o, g: Keras's third block is the candidate, the fourth the
    output gate.

    Args:
        x_t: ``(batch, features)``; h, c: ``(batch, units)``.
        kernel: ``(features, 4*units)``; recurrent_kernel: ``(units, 4*units)``; bias: ``(4*units,)``.

    Returns:
        ``(h_t, c_t)``, each ``(batch, units)``.

    Example (units=1, z = [0, 1, 0, 0], c = -1):
        i = 0.5, f = 0.731, g = 0, o = 0.5 -> c_t = -0.731, h_t = 0.5 * tanh(-0.731) = -0.312
    """
    # TODO: kata rnn.lstm_cell_forward
    raise NotImplementedError("kata rnn.lstm_cell_forward")


# ------------------------------------------------------------------ kata rnn.lstm_forward


def lstm_forward(x, kernel, recurrent_kernel, bias, return_sequences=False):
    """Keras's ``LSTM`` layer: ``lstm_cell_forward`` applied step after step from ``h = c = 0``.

    ::

        (h, c) = (0, 0)
        for t in 0 .. timesteps-1:  (h, c) = lstm_cell_forward(x[:, t], h, c, ...)

    Args:
        x: ``(batch, timesteps, features)``; weights as in :func:`lstm_cell_forward`.
        return_sequences: return every step's ``h`` instead of the last one.

    Returns:
        ``(batch, units)``, or ``(batch, timesteps, units)``; ``units = recurrent_kernel.shape[0]``.
    """
    # TODO: kata rnn.lstm_forward
    raise NotImplementedError("kata rnn.lstm_forward")


# ------------------------------------------------------------------ kata rnn.lstm_backward


def lstm_backward(dout, x, kernel, recurrent_kernel, bias, return_sequences=False):
    """Backpropagation through time (BPTT) for :func:`lstm_forward`.

    Unrolled, an LSTM is a deep network with one layer per step, all sharing
    the same weights; so a weight's gradient is the *sum* over steps. Run the
    forward pass keeping every ``i, f, g, o, c_t, h_t`` (``g = tanh(z_c)`` is the
    candidate of :func:`lstm_cell_forward`), then walk back from
    the last step, carrying two gradients into the past, ``dh`` and ``dc``::

        dh  = dh_from_step_t+1 + dout_t            (dout_t: zero except the last step,
                                                    unless return_sequences)
        dc  = dc_from_step_t+1 + dh * o * (1 - tanh(c_t)**2)
        di  = dc * g * i * (1 - i)        df = dc * c_{t-1} * f * (1 - f)
        dg  = dc * i * (1 - g**2)         do = dh * tanh(c_t) * o * (1 - o)
        dz  = [di, df, dg, do]            (batch, 4*units), Keras's order
        dkernel += x_t.T @ dz;  drecurrent_kernel += h_{t-1}.T @ dz;  dbias += dz.sum(0)
        dx[:, t] = dz @ kernel.T
        into step t-1:  dh = dz @ recurrent_kernel.T,   dc = dc * f

    The memory cell is the LSTM's point: ``dc * f`` carries gradient back
    through many steps without passing through a squashing function.

    Args:
        dout: ``(batch, units)``, or ``(batch, timesteps, units)`` with ``return_sequences=True``.
        x, kernel, recurrent_kernel, bias, return_sequences: as in :func:`lstm_forward`.

    Returns:
        ``(dx, dkernel, drecurrent_kernel, dbias)`` with the shapes of ``x`` and of the weights.
    """
    # TODO: kata rnn.lstm_backward
    raise NotImplementedError("kata rnn.lstm_backward")


# ------------------------------------------------------------------ kata rnn.gru_forward


def gru_forward(x, kernel, recurrent_kernel, bias, return_sequences=False):
    """Keras's ``GRU`` with its default ``reset_after=True``: one state, two gates.

    ::

        a = x_t @ kernel + bias[0]                  -> blocks a_z, a_r, a_h
        b = h_{t-1} @ recurrent_kernel + bias[1]    -> blocks b_z, b_r, b_h
        z = sigmoid(a_z + b_z)          update gate: how much of the old state to keep
        r = sigmoid(a_r + b_r)          reset gate: how much of the old state feeds the candidate
        hh = tanh(a_h + r * b_h)        candidate (reset applied AFTER the matmul)
        h_t = z * h_{t-1} + (1 - z) * hh

    The bias has two rows, ``(2, 3*units)``: row 0 is added to the input
    product, row 1 to the recurrent product (so that ``r`` can scale it). The
    textbook GRU (Keras's ``reset_after=False``) computes ``(r * h) @ U_h``
    instead: a different function.

    Args:
        x: ``(batch, timesteps, features)``; kernel ``(features, 3*units)``;
        recurrent_kernel ``(units, 3*units)``; bias ``(2, 3*units)``.

    Returns:
        ``(batch, units)``, or ``(batch, timesteps, units)`` with ``return_sequences=True``.
    """
    # TODO: kata rnn.gru_forward
    raise NotImplementedError("kata rnn.gru_forward")


# ------------------------------------------------------------------ layers for Sequential


class Embedding(Layer):
    """Keras's ``Embedding(input_dim, output_dim)`` for your ``Sequential``.

    Weights: ``[embeddings]`` of shape ``(input_dim, output_dim)``, initialised
    uniform in ``[-0.05, 0.05]`` (Keras's default for this layer).

    Input shape: ``(batch, timesteps)`` ids. Careful: your ``Sequential``
    casts ``x`` to float64 in ``fit`` and ``predict``, so the ids can arrive
    as ``3.0``: turn them back into integers before indexing.
    Output shape: ``(batch, timesteps, output_dim)``.

    ``backward(dout)`` fills ``self.grads = [d table]`` and returns ``None``:
    ids are integers, no gradient flows into them (this is the first layer).

    A Keras fact: Keras hands this gradient to its optimizer as
    ``tf.IndexedSlices`` (one row per occurrence of an id), and its Adam and
    RMSprop square each occurrence before summing repeated ids, where a dense
    Adam (yours) squares the sum. With an id twice in a batch the two differ
    (SGD agrees either way); the parity tests use batches without repeats.
    """

    def __init__(self, input_dim, output_dim, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)

    def build(self, input_shape, rng):
        # TODO: kata rnn.Embedding
        raise NotImplementedError("kata rnn.Embedding")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def forward(self, x, training=False):
        # TODO: kata rnn.Embedding
        raise NotImplementedError("kata rnn.Embedding")

    def backward(self, dout):
        # TODO: kata rnn.Embedding
        raise NotImplementedError("kata rnn.Embedding")


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
    """Keras's ``SimpleRNN(units, return_sequences=False)`` for your ``Sequential``.

    Weights, in Keras's order: kernel ``(features, units)`` glorot_uniform,
    recurrent_kernel ``(units, units)`` orthogonal, bias ``(units,)`` zeros.
    ``build(input_shape, rng)`` gets the per-sample shape ``(timesteps, features)``.

    ``backward(dout)`` is backpropagation through time: keep every ``h_t``
    in ``forward``; walking back, ``dz = dh * (1 - h_t**2)``, then
    ``dkernel += x_t.T @ dz``, ``drecurrent += h_{t-1}.T @ dz``, ``dbias += dz.sum(0)``,
    ``dx[:, t] = dz @ kernel.T`` and ``dh = dz @ recurrent_kernel.T`` for step t-1
    (plus that step's ``dout`` with ``return_sequences``). Fill ``self.grads``; return ``dx``.
    """

    def build(self, input_shape, rng):
        # TODO: kata rnn.SimpleRNN
        raise NotImplementedError("kata rnn.SimpleRNN")

    def forward(self, x, training=False):
        # TODO: kata rnn.SimpleRNN
        raise NotImplementedError("kata rnn.SimpleRNN")

    def backward(self, dout):
        # TODO: kata rnn.SimpleRNN
        raise NotImplementedError("kata rnn.SimpleRNN")


class LSTM(_Recurrent):
    """Keras's ``LSTM(units, return_sequences=False)`` for your ``Sequential``.

    Weights, in Keras's order: kernel ``(features, 4*units)`` glorot_uniform,
    recurrent_kernel ``(units, 4*units)`` orthogonal, bias ``(4*units,)``
    zeros except the forget gate's block ``bias[units:2*units]``, which starts
    at 1 (``unit_forget_bias=True``: at first the cell keeps what it stores).
    Parameters: ``4 * units * (features + units + 1)``.

    Use your :func:`lstm_forward` and :func:`lstm_backward`.
    """

    def build(self, input_shape, rng):
        # TODO: kata rnn.LSTM
        raise NotImplementedError("kata rnn.LSTM")

    def forward(self, x, training=False):
        # TODO: kata rnn.LSTM
        raise NotImplementedError("kata rnn.LSTM")

    def backward(self, dout):
        # TODO: kata rnn.LSTM
        raise NotImplementedError("kata rnn.LSTM")


class GRU(_Recurrent):
    """Keras's ``GRU(units, return_sequences=False)`` (``reset_after=True``) for your ``Sequential``.

    Weights, in Keras's order: kernel ``(features, 3*units)`` glorot_uniform,
    recurrent_kernel ``(units, 3*units)`` orthogonal, bias ``(2, 3*units)`` zeros.
    Parameters: ``3 * units * (features + units + 2)``.

    ``backward`` (per step, walking back; ``hh``, ``z``, ``r`` and
    ``b_h = h_{t-1} @ U_h + bias[1]_h`` from the forward pass)::

        dhh = dh * (1 - z) * (1 - hh**2)
        dz  = dh * (h_{t-1} - hh) * z * (1 - z)
        dr  = dhh * b_h * r * (1 - r)
        input side [dz, dr, dhh]: dkernel += x_t.T @ it, dbias[0] += its sum, dx[:, t] = it @ kernel.T
        recurrent side [dz, dr, dhh * r]: drecurrent += h_{t-1}.T @ it, dbias[1] += its sum
        into step t-1: dh = dh * z + (recurrent side) @ recurrent_kernel.T
    """

    def build(self, input_shape, rng):
        # TODO: kata rnn.GRU
        raise NotImplementedError("kata rnn.GRU")

    def forward(self, x, training=False):
        # TODO: kata rnn.GRU
        raise NotImplementedError("kata rnn.GRU")

    def backward(self, dout):
        # TODO: kata rnn.GRU
        raise NotImplementedError("kata rnn.GRU")
