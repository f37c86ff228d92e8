"""Attention: every position looks at every other.

A recurrent layer reads a sentence one word at a time and must carry what it
read in its state. **Attention** lets every position look at every other
position at once: each word asks a question (its *query*), every word offers
a description of itself (its *key*) and a content (its *value*), and each
word's output is a weighted mean of the values, weighted by how well its
query matches each key. A **Transformer block** stacks attention, a small
Dense network per position, residual sums and **layer normalisation**.

Shapes, in Keras's words:

* query ``(batch, T, d)``, key ``(batch, S, d)``, value ``(batch, S, dv)``:
  T query positions look at S key/value positions;
* scores and weights ``(batch, T, S)``: row ``t`` says how much query ``t``
  takes from each key, and the weights of a row sum to 1;
* a boolean mask broadcastable to ``(batch, T, S)``: True where query ``t``
  may attend to key ``s``. A padding mask is ``(batch, 1, S)``; a causal mask
  (no peeking at later words) is ``(T, S)``, True on and below the diagonal.

``MultiHeadAttention`` stores its weights as Keras does (``EinsumDense``
kernels, with an axis for the heads):

==============  ============================  ========================
weight          shape                         Keras name
==============  ============================  ========================
query kernel    ``(d_model, heads, key_dim)``  ``query/kernel``
query bias      ``(heads, key_dim)``           ``query/bias``
key, value      the same, from key / value     ``key/*``, ``value/*``
output kernel   ``(heads, key_dim, d_model)``  ``attention_output/kernel``
output bias     ``(d_model,)``                 ``attention_output/bias``
==============  ============================  ========================

The reference is Keras run live in float64; where Keras and you disagree, its
source is the specification: ``keras/src/layers/attention/multi_head_attention.py``,
``keras/src/layers/activations/softmax.py`` (the masked softmax),
``keras/src/layers/normalization/layer_normalization.py``.
"""

from __future__ import annotations

import numpy as np

from .activations import softmax
from .backprop import glorot_uniform
from .model import Dense, Layer
from .rnn import embedding_backward, embedding_forward

#: What Keras's masked softmax writes into masked scores before the softmax.
MASKED_SCORE = -1e9

# ------------------------------------------------------------------ solved example


def causal_mask(T, S=None):
    """``(T, S)`` booleans, True on and below the diagonal (solved for you).

    Query ``t`` may attend to keys ``0 .. t``, never to a later one: what a
    model that predicts the next word needs, and what Keras builds for
    ``MultiHeadAttention(...)(x, x, use_causal_mask=True)``.

    Example:
        >>> causal_mask(3)
        array([[ True, False, False],
               [ True,  True, False],
               [ True,  True,  True]])
    """
    return np.tril(np.ones((T, T if S is None else S), dtype=bool))


# ------------------------------------------------------------------ attention


def scaled_dot_product_attention(query, key, value, mask=None):
    """Attention as Keras computes it: ``(output, weights)``.

    ::

        scores  = query @ key^T / sqrt(d)                 (batch, T, S), d = query.shape[-1]
        weights = softmax(scores) over the keys (axis -1) each row sums to 1
        output  = weights @ value                         (batch, T, dv)

    Why ``/ sqrt(d)``: a dot product of two random d-vectors grows like
    ``sqrt(d)``; without the scale, large heads give a softmax so peaked that
    its gradient vanishes.

    **Masks, as Keras's masked softmax applies them**: where ``mask`` is
    False, the score is replaced by ``-1e9`` (``MASKED_SCORE``) *before* the
    softmax, so that the key gets no weight and the rest still sum to 1; then
    the masked weights are set to exactly 0. That last step matters for a row
    with no key allowed at all (a padded query): its weights are all zeros,
    not ``1/S`` each, and never NaN (which ``-inf`` would give: 0/0).

    Args:
        query: ``(batch, T, d)``; key: ``(batch, S, d)``; value: ``(batch, S, dv)``.
            Any leading axes work the same way (``(batch, heads, T, d)`` in
            ``MultiHeadAttention``), if you use ``@`` and ``np.swapaxes(key, -1, -2)``.
        mask: None, or booleans broadcastable to ``(batch, T, S)``; True = may attend.

    Returns:
        ``(output (batch, T, dv), weights (batch, T, S))``.

    Example (one query, three keys, d = 2)::

        query [[[1, 0]]], key [[[1, 0], [0, 1], [1, 1]]], value [[[1], [2], [4]]]
        scores  = [1, 0, 1] / sqrt(2) = [0.7071, 0, 0.7071]
        weights = [0.4011, 0.1978, 0.4011]
        output  = 0.4011 * 1 + 0.1978 * 2 + 0.4011 * 4 = 2.4011
        with mask [[[True, True, False]]]: weights [0.6698, 0.3302, 0], output 1.3302
    """
    # TODO: kata attention.scaled_dot_product_attention
    raise NotImplementedError("kata attention.scaled_dot_product_attention")


def attention_backward(dout, query, key, value, mask=None):
    """The gradients of :func:`scaled_dot_product_attention`'s output: ``(dquery, dkey, dvalue)``.

    Walk the forward pass back (``s = 1 / sqrt(d)``, ``w`` the weights)::

        output = w @ value       ->  dvalue = w^T @ dout,   dw = dout @ value^T
        w = softmax(scores)      ->  dscores = w * (dw - sum(dw * w, axis=-1, keepdims=True))
        scores = q @ k^T * s     ->  dquery = dscores @ key * s,   dkey = dscores^T @ query * s

    (``^T`` swaps the last two axes: ``np.swapaxes(a, -1, -2)``.) A masked
    weight is 0, so the formula gives its score no gradient by itself; a fully
    masked row gives nothing to query or key.

    Args:
        dout: ``(batch, T, dv)``, d loss / d output.
        query, key, value, mask: as in :func:`scaled_dot_product_attention`.

    Returns:
        ``(dquery, dkey, dvalue)`` with the shapes of query, key and value.

    Example (the example above, dout = [[[1]]])::

        dvalue = [[[0.4011], [0.1978], [0.4011]]]
        dquery = [[[0.0561, 0.3974]]],  dkey = [[[-0.3974, 0], [-0.0561, 0], [0.4535, 0]]]
    """
    # TODO: kata attention.attention_backward
    raise NotImplementedError("kata attention.attention_backward")


# ------------------------------------------------------------------ layer normalisation


def layer_norm_forward(x, gamma, beta, epsilon=1e-3):
    """Keras's ``LayerNormalization``: normalise each sample over its features (the last axis).

    ::

        mean = x.mean(axis=-1)                    one per sample (per timestep, for sequences)
        var  = ((x - mean)**2).mean(axis=-1)      the biased variance: divide by d, not d - 1
        y    = (x - mean) / sqrt(var + epsilon) * gamma + beta

    Batch normalisation averages each feature over the *batch*; layer
    normalisation averages each *sample* over its features, so it behaves the
    same for a batch of one and at inference. Keras's default epsilon is
    ``1e-3``, inside the square root (PyTorch's is ``1e-5``: on a sample of
    variance 0.01 the two differ by 5%).

    Args:
        x: ``(batch, features)`` or ``(batch, timesteps, features)``.
        gamma, beta: ``(features,)``.
        epsilon: added to the variance.

    Returns:
        The shape of ``x``.

    Example:
        x = [[1, 2, 3, 4]]: mean 2.5, var 1.25 -> [[-1.3411, -0.4470, 0.4470, 1.3411]]
        (with epsilon=1e-5: [[-1.3416, -0.4472, 0.4472, 1.3416]])
    """
    # TODO: kata attention.layer_norm_forward
    raise NotImplementedError("kata attention.layer_norm_forward")


def layer_norm_backward(dout, x, gamma, epsilon=1e-3):
    """The gradients of :func:`layer_norm_forward`: ``(dx, dgamma, dbeta)``.

    With ``x_hat = (x - mean) * inv`` and ``inv = 1 / sqrt(var + epsilon)``::

        dbeta  = dout summed over every axis but the last             (features,)
        dgamma = (dout * x_hat) summed the same way                    (features,)
        g      = dout * gamma
        dx     = inv * (g - mean(g) - x_hat * mean(g * x_hat))        means over the last axis

    The two extra terms are there because the mean and the variance of a
    sample depend on each of its features: nudge one feature and every
    ``x_hat`` of that sample moves.

    Args:
        dout: d loss / d y, the shape of ``x``.
        x, gamma, epsilon: as in :func:`layer_norm_forward`.

    Returns:
        ``(dx, dgamma, dbeta)``: the shape of ``x``, then ``(features,)`` twice.
    """
    # TODO: kata attention.layer_norm_backward
    raise NotImplementedError("kata attention.layer_norm_backward")


# ------------------------------------------------------------------ layers for Sequential


class LayerNormalization(Layer):
    """Keras's ``LayerNormalization(epsilon=1e-3)`` over the last axis, for your ``Sequential``.

    Weights, in Keras's order: ``gamma`` (ones) and ``beta`` (zeros), each
    ``(features,)``. ``backward(dout)`` fills ``self.grads = [dgamma, dbeta]``
    and returns dx. Use your :func:`layer_norm_forward` and :func:`layer_norm_backward`.
    """

    def __init__(self, epsilon=1e-3, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.epsilon = float(epsilon)

    def build(self, input_shape, rng):
        # TODO: kata attention.LayerNormalization
        raise NotImplementedError("kata attention.LayerNormalization")

    def forward(self, x, training=False):
        # TODO: kata attention.LayerNormalization
        raise NotImplementedError("kata attention.LayerNormalization")

    def backward(self, dout):
        # TODO: kata attention.LayerNormalization
        raise NotImplementedError("kata attention.LayerNormalization")


class MultiHeadAttention(Layer):
    """Keras's ``MultiHeadAttention(num_heads, key_dim)``, with its weight layout.

    Each head projects the inputs to its own small query, key and value
    (``key_dim`` numbers each), runs :func:`scaled_dot_product_attention`,
    and the output kernel mixes the heads back to ``d_model`` features::

        q = einsum("btd,dnh->bnth", query, Wq) + bq[:, None, :]     (batch, heads, T, key_dim)
        k, v likewise from key and value                            (batch, heads, S, key_dim)
        heads, scores = scaled_dot_product_attention(q, k, v, mask[:, None])   one mask, every head
        out = einsum("bnth,nhd->btd", heads, Wo) + bo               (batch, T, d_model)

    Weights, in Keras's order (see the table at the top of this file): query
    kernel and bias, key kernel and bias, value kernel and bias, output kernel
    and bias. Kernels are glorot-uniform with the fans of the einsum, ``d_model``
    in and ``heads * key_dim`` out: ``glorot_uniform((d, heads * key_dim), rng)``
    reshaped to ``(d, heads, key_dim)`` (a 3-D shape would count as a
    convolution's); the output kernel from ``(heads * value_dim, d)``. Biases zeros.

    ``build(input_shape, rng, value_shape=None, key_shape=None)``: the
    per-sample shapes; value defaults to the query's, key to the value's.

    ``forward(query, value=None, key=None, attention_mask=None,
    use_causal_mask=False, return_attention_scores=False, training=False)``:
    as Keras's call. ``value=None`` is self-attention (``Sequential`` calls
    ``forward(x, training=...)``); ``key`` defaults to ``value``.
    ``attention_mask`` ``(batch, T, S)`` (or broadcastable) and the causal
    mask combine with ``&``. With ``return_attention_scores=True`` return
    ``(output, scores)``, scores ``(batch, heads, T, S)``.

    ``backward(dout)`` fills ``self.grads`` (8 arrays, the weights' order) and
    returns dx for self-attention (x was query, key and value: the sum of the
    three gradients); with a separate value it returns ``(dquery, dvalue)``
    when key defaulted to value, else ``(dquery, dvalue, dkey)``.

    Example: ``MultiHeadAttention(2, 4)`` on ``(batch, 5, 6)`` holds
    ``3 * (6*2*4 + 2*4) + 2*4*6 + 6 = 222`` parameters, as Keras's.
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
        # TODO: kata attention.MultiHeadAttention
        raise NotImplementedError("kata attention.MultiHeadAttention")

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
        # TODO: kata attention.MultiHeadAttention
        raise NotImplementedError("kata attention.MultiHeadAttention")

    def backward(self, dout):
        # TODO: kata attention.MultiHeadAttention
        raise NotImplementedError("kata attention.MultiHeadAttention")


class TokenAndPositionEmbedding(Layer):
    """Token embedding plus a learned position embedding (Keras's text-classification example).

    Attention followed by an average does not see word order at all: shuffle
    the words and the result is the same. Adding a learned vector per
    *position* gives each word its place::

        out[b, t] = token[ids[b, t]] + position[t]

    Weights, in Keras's order: ``token`` ``(vocab_size, embed_dim)`` then
    ``position`` ``(maxlen, embed_dim)``, both uniform in ``[-0.05, 0.05]``
    (each is a ``keras.layers.Embedding``). Sequences may be shorter than
    ``maxlen``: they use the first rows of the position table.

    Input ``(batch, steps)`` ids (your ``Sequential`` hands them over as
    floats: turn them back into integers). Output ``(batch, steps, embed_dim)``.
    ``backward(dout)`` fills ``self.grads = [d token, d position]`` (every
    sample used the same position rows: sum over the batch) and returns None.
    """

    def __init__(self, maxlen, vocab_size, embed_dim, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.maxlen, self.vocab_size, self.embed_dim = int(maxlen), int(vocab_size), int(embed_dim)

    def build(self, input_shape, rng):
        # TODO: kata attention.TokenAndPositionEmbedding
        raise NotImplementedError("kata attention.TokenAndPositionEmbedding")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.embed_dim,)

    def forward(self, x, training=False):
        # TODO: kata attention.TokenAndPositionEmbedding
        raise NotImplementedError("kata attention.TokenAndPositionEmbedding")

    def backward(self, dout):
        # TODO: kata attention.TokenAndPositionEmbedding
        raise NotImplementedError("kata attention.TokenAndPositionEmbedding")


class GlobalAveragePooling1D(Layer):
    """Keras's ``GlobalAveragePooling1D()``: one vector per sequence, the mean over the steps.

    ``(batch, steps, features) -> (batch, features)``. With a ``(batch, steps)``
    boolean ``mask`` (``forward(x, training=False, mask=None)``), as Keras: the
    mean over the unmasked steps only, ``sum(x where mask) / mask.sum(axis=1)``.

    ``backward(dout)`` returns dx ``(batch, steps, features)``: each step
    receives ``dout`` times the weight it had in the mean (``1/steps``, or
    ``mask / count``). No weights.

    Example: x = [[[1, 2], [3, 4], [5, 9]]] -> [[3, 5]]; with mask [[True, True, False]] -> [[2, 3]].
    """

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[1:])

    def forward(self, x, training=False, mask=None):
        # TODO: kata attention.GlobalAveragePooling1D
        raise NotImplementedError("kata attention.GlobalAveragePooling1D")

    def backward(self, dout):
        # TODO: kata attention.GlobalAveragePooling1D
        raise NotImplementedError("kata attention.GlobalAveragePooling1D")


class TransformerBlock(Layer):
    """A post-norm Transformer encoder block, as Keras's text-classification example builds it.

    ::

        a   = MultiHeadAttention(num_heads, key_dim)(x, x)       self-attention
        h   = LayerNormalization(x + a)                          residual, THEN the norm
        f   = Dense(embed_dim)(Dense(ff_dim, "relu")(h))          per position
        out = LayerNormalization(h + f)

    The residual sums let the gradient reach ``x`` directly, around the
    attention and around the feed-forward network; backward is the chain rule
    through both (a sum sends its gradient to both of its inputs unchanged).

    The sublayers are made for you in ``__init__`` (``key_dim`` defaults to
    ``embed_dim // num_heads``). ``self.weights`` must be their weight lists
    concatenated, in this order, as Keras's ``get_weights()`` lists them:
    the attention's 8, the hidden Dense's kernel and bias, the output Dense's
    kernel and bias, then gamma and beta of ``norm1`` and of ``norm2``; the
    same arrays (not copies), so that the optimizer's in-place updates reach
    the sublayers. ``self.grads`` likewise after backward.
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
        # TODO: kata attention.TransformerBlock
        raise NotImplementedError("kata attention.TransformerBlock")

    def forward(self, x, training=False):
        # TODO: kata attention.TransformerBlock
        raise NotImplementedError("kata attention.TransformerBlock")

    def backward(self, dout):
        # TODO: kata attention.TransformerBlock
        raise NotImplementedError("kata attention.TransformerBlock")
