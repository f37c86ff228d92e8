"""Attention: the answer key (scaled dot-product attention, LayerNormalization,
MultiHeadAttention, a post-norm Transformer block), following Keras 3.

Shapes use Keras's words: a sequence is ``(batch, timesteps, features)``;
attention reads queries ``(batch, T, d)`` against keys ``(batch, S, d)`` and
values ``(batch, S, dv)``. A boolean mask broadcastable to ``(batch, T, S)``
says which key each query may attend to (True: it may).

Keras facts the code follows (read in the installed Keras source):

* ``keras.layers.Softmax()(scores, mask=...)`` fills masked scores with -1e9,
  takes the softmax, then sets masked weights to 0: a fully masked row gets
  all-zero weights, never NaN and never a uniform row;
* ``MultiHeadAttention`` scales the query by ``1 / sqrt(key_dim)`` and stores
  its projections as ``EinsumDense`` kernels: query/key/value ``(d, num_heads,
  key_dim)`` with biases ``(num_heads, key_dim)``, output ``(num_heads,
  value_dim, d)`` with bias ``(d,)``; its Glorot fans are ``d`` and
  ``num_heads * key_dim`` (the einsum's input and output axes);
* ``LayerNormalization`` normalises each sample over its last axis with the
  biased variance and ``epsilon=1e-3`` inside the square root.
"""

from __future__ import annotations

import functools

import numpy as np

from .activations import softmax
from .backprop import glorot_uniform
from .model import Dense, Layer
from .rnn import embedding_backward, embedding_forward

#: What Keras's masked softmax writes into masked scores before the softmax.
MASKED_SCORE = -1e9


# ------------------------------------------------------------------ einsum


@functools.lru_cache(maxsize=256)
def _matmul_plan(subscripts, shape_a, shape_b):
    """How ``np.einsum(subscripts, a, b)`` of two operands is one (batched) matrix product.

    Every letter is one of four kinds: in both operands and the output, a
    *batch* axis (``b`` in ``"bt,btf->bf"``); in both operands only,
    *contracted* (summed: ``d`` in ``"btd,dnh->bnth"``); in one operand and
    the output, *kept* from it. So: transpose ``a`` to ``(batch, kept_a,
    contracted)`` and ``b`` to ``(batch, contracted, kept_b)``, flatten each
    group into one axis, ``matmul``, unflatten, transpose into the output's
    order. Returns the permutations and shapes, worked out once per shape.
    """
    inputs, output = subscripts.replace(" ", "").split("->")
    letters_a, letters_b = inputs.split(",")
    size = dict(zip(letters_a, shape_a)) | dict(zip(letters_b, shape_b))
    batch = [c for c in letters_a if c in letters_b and c in output]
    summed = [c for c in letters_a if c in letters_b and c not in output]
    kept_a = [c for c in letters_a if c not in letters_b]
    kept_b = [c for c in letters_b if c not in letters_a]

    def flat(*groups):
        return tuple(int(np.prod([size[c] for c in group])) for group in groups)

    order_a, order_b = batch + kept_a + summed, batch + summed + kept_b
    product = batch + kept_a + kept_b
    return (
        tuple(letters_a.index(c) for c in order_a),
        flat(batch, kept_a, summed) if batch else flat(kept_a, summed),
        tuple(letters_b.index(c) for c in order_b),
        flat(batch, summed, kept_b) if batch else flat(summed, kept_b),
        tuple(size[c] for c in product),
        tuple(product.index(c) for c in output),
    )


def _contract(subscripts, a, b):
    """``np.einsum(subscripts, a, b, optimize=True)`` for two float arrays, as one ``matmul``.

    NumPy's optimised einsum makes the same matrix product (so the numbers are
    the same to the last bit), but works out its plan again on every call: in
    the Transformer's training loop, on small batches, that planning cost more
    than the arithmetic. Here the plan is cached per shape (:func:`_matmul_plan`).
    """
    perm_a, shape_a, perm_b, shape_b, shape_product, perm_out = _matmul_plan(subscripts, a.shape, b.shape)
    product = np.reshape(a.transpose(perm_a), shape_a) @ np.reshape(b.transpose(perm_b), shape_b)
    return product.reshape(shape_product).transpose(perm_out)


# ----------------------------------------------------------------- attention


def _masked_softmax(scores, mask):
    """Softmax over the last axis (the keys), as ``keras.layers.Softmax()(scores, mask=mask)``."""
    if mask is None:
        return softmax(scores, axis=-1)
    mask = np.broadcast_to(np.asarray(mask, dtype=bool), scores.shape)
    weights = softmax(np.where(mask, scores, MASKED_SCORE), axis=-1)
    return np.where(mask, weights, 0.0)  # a fully masked row: zeros, not 1/S


def _hide_masked_keys(key, mask, queries):
    """``key`` with zeros for each key that every query masks (padding): such a key may hold anything,
    inf or NaN, and its scores are replaced by -1e9 anyway, but ``inf * 0`` in the matmul would warn."""
    if mask is None:
        return key
    shape = np.broadcast_shapes(np.shape(mask), key.shape[:-2] + (queries, key.shape[-2]))
    hidden = ~np.broadcast_to(np.asarray(mask, dtype=bool), shape).any(axis=-2)  # (..., S)
    return np.where(hidden[..., None], 0.0, key) if hidden.any() else key


def _attention_weights(query, key, mask):
    scale = 1.0 / np.sqrt(query.shape[-1])
    scores = (query @ np.swapaxes(_hide_masked_keys(key, mask, query.shape[-2]), -1, -2)) * scale  # (..., T, S)
    return _masked_softmax(scores, mask), scale


def scaled_dot_product_attention(query, key, value, mask=None):
    """``softmax(query @ key^T / sqrt(d), masked) @ value``; returns ``(output, weights)``.

    Works for any leading axes: ``(batch, T, d)`` or, inside MultiHeadAttention,
    ``(batch, heads, T, key_dim)``.
    """
    query, key, value = (np.asarray(a, dtype=np.float64) for a in (query, key, value))
    weights, _ = _attention_weights(query, key, mask)
    return weights @ value, weights


def attention_backward(dout, query, key, value, mask=None):
    """``(dquery, dkey, dvalue)`` of :func:`scaled_dot_product_attention`'s output.

    Through the softmax, row by row: ``dscores = w * (dw - sum(dw * w))``. A
    masked weight is 0, so its score receives no gradient, and neither does
    any score of a fully masked row.
    """
    query, key, value, dout = (np.asarray(a, dtype=np.float64) for a in (query, key, value, dout))
    weights, scale = _attention_weights(query, key, mask)
    dvalue = np.swapaxes(weights, -1, -2) @ dout
    dweights = dout @ np.swapaxes(value, -1, -2)
    dscores = weights * (dweights - np.sum(dweights * weights, axis=-1, keepdims=True))
    dquery = (dscores @ key) * scale
    dkey = (np.swapaxes(dscores, -1, -2) @ query) * scale
    return dquery, dkey, dvalue


def causal_mask(T, S=None):
    """``(T, S)`` booleans, True on and below the diagonal: query ``t`` sees keys ``0 .. t``
    (Keras's ``use_causal_mask=True``)."""
    return np.tril(np.ones((T, T if S is None else S), dtype=bool))


# ---------------------------------------------------------------- layer norm


def _normalised(x, epsilon):
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # biased: divide by d, as Keras
    inverse = 1.0 / np.sqrt(variance + epsilon)
    return (x - mean) * inverse, inverse


def layer_norm_forward(x, gamma, beta, epsilon=1e-3):
    """Keras's ``LayerNormalization``: each sample's last axis to mean 0, variance 1, then ``* gamma + beta``."""
    x_hat, _ = _normalised(x, epsilon)
    return x_hat * np.asarray(gamma, dtype=np.float64) + np.asarray(beta, dtype=np.float64)


def layer_norm_backward(dout, x, gamma, epsilon=1e-3):
    """``(dx, dgamma, dbeta)``. The mean and the variance depend on every feature of the
    sample, so ``dx`` has two correction terms: ``inv * (g - mean(g) - x_hat * mean(g * x_hat))``
    with ``g = dout * gamma``."""
    dout = np.asarray(dout, dtype=np.float64)
    x_hat, inverse = _normalised(x, epsilon)
    g = dout * np.asarray(gamma, dtype=np.float64)
    dx = inverse * (g - g.mean(axis=-1, keepdims=True) - x_hat * (g * x_hat).mean(axis=-1, keepdims=True))
    rows = tuple(range(dout.ndim - 1))  # every axis but the features
    return dx, (dout * x_hat).sum(axis=rows), dout.sum(axis=rows)


# -------------------------------------------------------------------- layers


class LayerNormalization(Layer):
    """``keras.layers.LayerNormalization(epsilon=1e-3)`` over the last axis; weights ``[gamma, beta]``."""

    def __init__(self, epsilon=1e-3, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.epsilon = float(epsilon)

    def build(self, input_shape, rng):
        features = input_shape[-1]
        self.weights = [np.ones(features), np.zeros(features)]
        self.built = True

    def forward(self, x, training=False):
        self._x = np.asarray(x, dtype=np.float64)
        return layer_norm_forward(self._x, *self.weights, epsilon=self.epsilon)

    def backward(self, dout):
        dx, dgamma, dbeta = layer_norm_backward(dout, self._x, self.weights[0], epsilon=self.epsilon)
        self.grads = [dgamma, dbeta]
        return dx


def _projection_kernel(shape_in, heads, size, rng):
    """Glorot-uniform ``(d, heads, size)`` with Keras's EinsumDense fans: ``d`` in, ``heads*size`` out."""
    return glorot_uniform((shape_in, heads * size), rng).reshape(shape_in, heads, size)


def _heads_mask(attention_mask, use_causal_mask, T, S):
    """The mask for scores ``(batch, heads, T, S)``: ``attention_mask & causal``, the same for every head."""
    mask = None if attention_mask is None else np.asarray(attention_mask, dtype=bool)
    if use_causal_mask:
        mask = causal_mask(T, S) if mask is None else mask & causal_mask(T, S)
    if mask is not None and mask.ndim == 3:
        mask = mask[:, None, :, :]  # (batch, T, S) -> (batch, 1, T, S): broadcast over the heads
    return mask


class MultiHeadAttention(Layer):
    """``keras.layers.MultiHeadAttention(num_heads, key_dim)``, weights in Keras's order.

    Weights: query kernel ``(d_q, N, H)`` and bias ``(N, H)``, key kernel
    ``(d_k, N, H)`` and bias, value kernel ``(d_v, N, Hv)`` and bias ``(N, Hv)``,
    output kernel ``(N, Hv, d_q)`` and bias ``(d_q,)``; ``H = key_dim``,
    ``Hv = value_dim`` (defaults to ``key_dim``). Kernels Glorot-uniform, biases zeros.

    ``forward(query, value=None, key=None, attention_mask=None, use_causal_mask=False)``:
    ``value`` defaults to ``query`` (self-attention, what ``Sequential`` calls)
    and ``key`` to ``value``, as in Keras. ``backward(dout)`` fills ``grads``
    and returns ``dquery + dvalue + dkey`` for self-attention, else the tuple
    ``(dquery, dvalue, dkey)`` (``(dquery, dvalue)`` when ``key`` defaulted to ``value``).
    """

    def __init__(self, num_heads, key_dim, value_dim=None, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        for argument, value in (("num_heads", num_heads), ("key_dim", key_dim), ("value_dim", value_dim)):
            if value is not None and (not isinstance(value, (int, np.integer)) or value <= 0):
                raise ValueError(
                    f"Received an invalid value for argument `{argument}`, expected a positive "
                    f"integer. Received: {argument}={value}"
                )
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(value_dim) if value_dim is not None else self.key_dim

    def build(self, input_shape, rng, value_shape=None, key_shape=None):
        value_shape = value_shape if value_shape is not None else input_shape
        key_shape = key_shape if key_shape is not None else value_shape
        d_query, heads = input_shape[-1], self.num_heads
        self.weights = [
            _projection_kernel(d_query, heads, self.key_dim, rng),
            np.zeros((heads, self.key_dim)),
            _projection_kernel(key_shape[-1], heads, self.key_dim, rng),
            np.zeros((heads, self.key_dim)),
            _projection_kernel(value_shape[-1], heads, self.value_dim, rng),
            np.zeros((heads, self.value_dim)),
            glorot_uniform((heads * self.value_dim, d_query), rng).reshape(heads, self.value_dim, d_query),
            np.zeros(d_query),
        ]
        self.built = True

    def __call__(self, query, value=None, key=None, **options):
        return self.forward(query, value, key, **options)

    def forward(
        self,
        query,
        value=None,
        key=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=False,
    ):
        self._inputs_given = (value is not None, key is not None)
        query = np.asarray(query, dtype=np.float64)
        value = query if value is None else np.asarray(value, dtype=np.float64)
        key = value if key is None else np.asarray(key, dtype=np.float64)
        wq, bq, wk, bk, wv, bv, wo, bo = self.weights
        # Project, one head per slice of axis n: (batch, heads, steps, size).
        q = _contract("btd,dnh->bnth", query, wq) + bq[:, None, :]
        k = _contract("bsd,dnh->bnsh", key, wk) + bk[:, None, :]
        v = _contract("bsd,dnh->bnsh", value, wv) + bv[:, None, :]
        mask = _heads_mask(attention_mask, use_causal_mask, query.shape[1], value.shape[1])
        heads, scores = scaled_dot_product_attention(q, k, v, mask)
        self._cache = (query, key, value, q, k, v, mask, heads)
        out = _contract("bnth,nhd->btd", heads, wo) + bo  # concatenate the heads and project back
        return (out, scores) if return_attention_scores else out

    def backward(self, dout):
        dout = np.asarray(dout, dtype=np.float64)
        query, key, value, q, k, v, mask, heads = self._cache
        wq, _, wk, _, wv, _, wo, _ = self.weights
        dheads = _contract("btd,nhd->bnth", dout, wo)
        dq, dk, dv = attention_backward(dheads, q, k, v, mask)
        self.grads = [
            _contract("btd,bnth->dnh", query, dq),
            dq.sum(axis=(0, 2)),
            _contract("bsd,bnsh->dnh", key, dk),
            dk.sum(axis=(0, 2)),
            _contract("bsd,bnsh->dnh", value, dv),
            dv.sum(axis=(0, 2)),
            _contract("bnth,btd->nhd", heads, dout),
            dout.sum(axis=(0, 1)),
        ]
        dquery = _contract("bnth,dnh->btd", dq, wq)
        dkey = _contract("bnsh,dnh->bsd", dk, wk)
        dvalue = _contract("bnsh,dnh->bsd", dv, wv)
        value_given, key_given = self._inputs_given
        if not value_given:  # self-attention: one input played all three parts
            return dquery + dvalue + dkey
        if not key_given:
            return dquery, dvalue + dkey
        return dquery, dvalue, dkey


def _token_ids(x):
    """Token ids as integers: ``Sequential`` hands them over as float64 (``3.0``)."""
    x = np.asarray(x)
    ids = np.rint(x).astype(np.int64) if x.dtype.kind == "f" else x.astype(np.int64)
    if x.dtype.kind == "f" and not np.array_equal(ids, x):
        raise ValueError("TokenAndPositionEmbedding expects integer token ids; received non-integer values")
    return ids


class TokenAndPositionEmbedding(Layer):
    """Token embedding plus a learned position embedding, as in Keras's text-classification example.

    Weights ``[token (vocab_size, embed_dim), position (maxlen, embed_dim)]``,
    both uniform in ``[-0.05, 0.05]`` (two ``keras.layers.Embedding``).
    ``out[b, t] = token[ids[b, t]] + position[t]``.
    """

    def __init__(self, maxlen, vocab_size, embed_dim, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.maxlen, self.vocab_size, self.embed_dim = int(maxlen), int(vocab_size), int(embed_dim)

    def build(self, input_shape, rng):
        self.weights = [
            rng.uniform(-0.05, 0.05, size=(self.vocab_size, self.embed_dim)),
            rng.uniform(-0.05, 0.05, size=(self.maxlen, self.embed_dim)),
        ]
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.embed_dim,)

    def forward(self, x, training=False):
        self._ids = _token_ids(x)
        steps = self._ids.shape[1]
        if steps > self.maxlen:
            raise ValueError(f"TokenAndPositionEmbedding(maxlen={self.maxlen}) received sequences of {steps} steps")
        token, position = self.weights
        return embedding_forward(self._ids, token) + position[:steps]

    def backward(self, dout):
        dout = np.asarray(dout, dtype=np.float64)
        dposition = np.zeros_like(self.weights[1])
        dposition[: dout.shape[1]] = dout.sum(axis=0)  # every sample used the same position rows
        self.grads = [embedding_backward(dout, self._ids, self.vocab_size), dposition]
        # No return: the ids are integers, no gradient flows into them (None, as Embedding's).


class GlobalAveragePooling1D(Layer):
    """``keras.layers.GlobalAveragePooling1D``: the mean over the steps, ``(batch, steps, features) ->
    (batch, features)``; with a ``(batch, steps)`` mask, the mean over the unmasked steps only."""

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[1:])

    def _step_weights(self, shape, mask):
        if mask is None:
            return np.full(shape[:2], 1.0 / shape[1])
        mask = np.asarray(mask, dtype=np.float64)
        return mask / mask.sum(axis=1, keepdims=True)

    def forward(self, x, training=False, mask=None):
        x = np.asarray(x, dtype=np.float64)
        self._weights_per_step = self._step_weights(x.shape, mask)
        # np.where keeps a masked step's inf or NaN out of the sum, as Keras's ops.where does.
        kept = x if mask is None else np.where(np.asarray(mask, dtype=bool)[..., None], x, 0.0)
        return _contract("bt,btf->bf", self._weights_per_step, kept)

    def backward(self, dout):
        return self._weights_per_step[..., None] * np.asarray(dout, dtype=np.float64)[:, None, :]


class TransformerBlock(Layer):
    """A post-norm Transformer encoder block, as Keras's text-classification example builds it::

        h   = LayerNormalization(x + MultiHeadAttention(x, x))
        out = LayerNormalization(h + Dense(embed_dim)(Dense(ff_dim, "relu")(h)))

    ``key_dim`` defaults to ``embed_dim // num_heads``. Weights, in Keras's
    order: the attention's 8, the two Dense layers' kernel and bias, then
    ``gamma, beta`` of the first and of the second normalisation.
    """

    def __init__(self, embed_dim, num_heads, ff_dim, key_dim=None, epsilon=1e-3, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.embed_dim, self.num_heads, self.ff_dim = int(embed_dim), int(num_heads), int(ff_dim)
        self.key_dim = int(key_dim) if key_dim is not None else max(1, self.embed_dim // self.num_heads)
        self.attention = MultiHeadAttention(self.num_heads, self.key_dim)
        self.hidden = Dense(self.ff_dim, activation="relu")
        self.projection = Dense(self.embed_dim)
        self.norm1 = LayerNormalization(epsilon)
        self.norm2 = LayerNormalization(epsilon)
        self.sublayers = [self.attention, self.hidden, self.projection, self.norm1, self.norm2]

    def build(self, input_shape, rng):
        if input_shape[-1] != self.embed_dim:
            raise ValueError(
                f"TransformerBlock(embed_dim={self.embed_dim}) received inputs of "
                f"{input_shape[-1]} features: the residuals need them equal"
            )
        hidden_shape = tuple(input_shape[:-1]) + (self.ff_dim,)
        for layer, shape in zip(self.sublayers, (input_shape, input_shape, hidden_shape, input_shape, input_shape)):
            layer.build(shape, rng)
        # The same arrays, not copies: the optimizer updates them in place for the sublayers.
        self.weights = [w for layer in self.sublayers for w in layer.weights]
        self.built = True

    def forward(self, x, training=False):
        x = np.asarray(x, dtype=np.float64)
        h = self.norm1.forward(x + self.attention.forward(x, training=training))  # residual, then the norm
        ff = self.projection.forward(self.hidden.forward(h, training=training), training=training)
        return self.norm2.forward(h + ff)

    def backward(self, dout):
        dsum2 = self.norm2.backward(dout)  # into h + ff
        dh = dsum2 + self.hidden.backward(self.projection.backward(dsum2))
        dsum1 = self.norm1.backward(dh)  # into x + attention(x)
        dx = dsum1 + self.attention.backward(dsum1)
        self.grads = [g for layer in self.sublayers for g in layer.grads]
        return dx
