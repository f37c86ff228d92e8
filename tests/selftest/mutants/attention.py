"""Wrong and right ways to write katas/attention.py.

The mutants are the mistakes people make with attention and Transformers: no
``1/sqrt(d)`` scale, the softmax over the queries, a mask applied after the
softmax (or as -inf, which turns a fully masked row into NaN), heads cut in
the wrong order, layer normalisation over the batch axis or with PyTorch's
epsilon, a residual added after the normalisation, a position table that
averages its gradient. The alternatives are correct code written another way
(einsum instead of matmul, a loop over heads instead of one fused einsum, a
flat matmul with reshapes). Names of solutions/attention.py are in scope.
"""

import numpy as np
from mutation import SOLUTIONS, alternative, mutant

from dojo.course.implementation import Implementation

# Class variants subclass the answer key's layers. Here, at registration, the bases come from
# solutions/attention.py; once spliced into the copied module, the same names are that module's own.
_answer_key = Implementation(SOLUTIONS).module("attention")
LayerNormalization, MultiHeadAttention = _answer_key.LayerNormalization, _answer_key.MultiHeadAttention
TokenAndPositionEmbedding, GlobalAveragePooling1D = (
    _answer_key.TokenAndPositionEmbedding,
    _answer_key.GlobalAveragePooling1D,
)
TransformerBlock = _answer_key.TransformerBlock

# ------------------------------------------------------------------ scaled_dot_product_attention


@mutant("attention.scaled_dot_product_attention", expect=r"did not divide the scores by sqrt\(d\)")
def attention_without_scale(query, key, value, mask=None):
    scores = np.asarray(query) @ np.swapaxes(key, -1, -2)  # MISTAKE: no / sqrt(d)
    weights = _masked_softmax(scores, mask)
    return weights @ value, weights


@mutant("attention.scaled_dot_product_attention", expect="over the queries")
def attention_softmax_over_queries(query, key, value, mask=None):
    scores = np.asarray(query) @ np.swapaxes(key, -1, -2) / np.sqrt(np.shape(query)[-1])
    if mask is not None:
        mask = np.broadcast_to(mask, scores.shape)
        weights = np.where(mask, softmax(np.where(mask, scores, -1e9), axis=-2), 0.0)
    else:
        weights = softmax(scores, axis=-2)  # MISTAKE: each key's column sums to 1
    return weights @ value, weights


@mutant("attention.scaled_dot_product_attention", expect="after the softmax")
def attention_mask_after_softmax(query, key, value, mask=None):
    scores = np.asarray(query) @ np.swapaxes(key, -1, -2) / np.sqrt(np.shape(query)[-1])
    weights = softmax(scores, axis=-1)
    if mask is not None:
        weights = weights * np.broadcast_to(mask, scores.shape)  # MISTAKE: not renormalised
    return weights @ value, weights


@mutant("attention.scaled_dot_product_attention", expect="NaN")
def attention_mask_with_minus_infinity(query, key, value, mask=None):
    scores = np.asarray(query) @ np.swapaxes(key, -1, -2) / np.sqrt(np.shape(query)[-1])
    if mask is not None:
        scores = np.where(np.broadcast_to(mask, scores.shape), scores, -np.inf)
    with np.errstate(invalid="ignore"):
        shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))  # a fully masked row: -inf - -inf
        weights = shifted / shifted.sum(axis=-1, keepdims=True)
    return weights @ value, weights


@mutant("attention.scaled_dot_product_attention", expect="uniform weights")
def attention_without_zeroing(query, key, value, mask=None):
    scores = np.asarray(query) @ np.swapaxes(key, -1, -2) / np.sqrt(np.shape(query)[-1])
    if mask is not None:
        scores = np.where(np.broadcast_to(mask, scores.shape), scores, -1e9)
    weights = softmax(scores, axis=-1)  # MISTAKE: masked weights not set to 0 afterwards
    return weights @ value, weights


@alternative("attention.scaled_dot_product_attention")
def attention_with_einsum(query, key, value, mask=None):
    query, key, value = (np.asarray(a, dtype=float) for a in (query, key, value))
    scores = np.einsum("btd,bsd->bts", query, key) / np.sqrt(query.shape[-1])
    keep = np.ones(scores.shape, bool) if mask is None else np.broadcast_to(mask, scores.shape)
    scores = np.where(keep, scores, -np.inf)
    top = np.max(scores, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)  # a fully masked row: no finite max to subtract
    e = np.where(keep, np.exp(scores - top), 0.0)
    total = e.sum(axis=-1, keepdims=True)
    weights = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return np.einsum("bts,bsd->btd", weights, value), weights


@alternative("attention.scaled_dot_product_attention")
def attention_one_query_at_a_time(query, key, value, mask=None):
    query, key, value = (np.asarray(a, dtype=float) for a in (query, key, value))
    batch, T, d = query.shape
    S = key.shape[1]
    keep = np.ones((batch, T, S), bool) if mask is None else np.broadcast_to(mask, (batch, T, S))
    weights = np.zeros((batch, T, S))
    for b in range(batch):
        for t in range(T):
            allowed = keep[b, t]
            if allowed.any():
                s = key[b, allowed] @ query[b, t] / np.sqrt(d)
                e = np.exp(s - s.max())
                weights[b, t, allowed] = e / e.sum()
    return weights @ value, weights


@mutant("attention.scaled_dot_product_attention", expect=r"added to the masked scores.*np.where\(mask, scores, -1e9\)")
def attention_adding_a_large_negative_number(query, key, value, mask=None):
    """The TensorFlow tutorial's `scaled_attention_logits += (mask * -1e9)`, then Keras's zeroing: right
    for ordinary scores, wrong where a masked key's score is huge, inf or NaN (padding garbage)."""
    scores = np.asarray(query) @ np.swapaxes(key, -1, -2) / np.sqrt(np.shape(query)[-1])
    if mask is None:
        weights = softmax(scores, axis=-1)
    else:
        keep = np.broadcast_to(np.asarray(mask, dtype=bool), scores.shape)
        weights = softmax(scores + (1.0 - keep) * -1e9, axis=-1)  # MISTAKE: -1e9 added, not substituted
        weights = np.where(keep, weights, 0.0)
    return weights @ value, weights


# ------------------------------------------------------------------ attention_backward


@mutant("attention.attention_backward", expect="through the softmax")
def attention_backward_weights_constant(dout, query, key, value, mask=None):
    weights, _ = _attention_weights(np.asarray(query), np.asarray(key), mask)
    dvalue = np.swapaxes(weights, -1, -2) @ dout
    return np.zeros_like(query), np.zeros_like(key), dvalue  # MISTAKE: as if the weights were fixed


@mutant("attention.attention_backward", expect="scale is missing")
def attention_backward_without_scale(dout, query, key, value, mask=None):
    weights, _ = _attention_weights(np.asarray(query), np.asarray(key), mask)
    dw = dout @ np.swapaxes(value, -1, -2)
    dscores = weights * (dw - np.sum(dw * weights, axis=-1, keepdims=True))
    return dscores @ key, np.swapaxes(dscores, -1, -2) @ query, np.swapaxes(weights, -1, -2) @ dout


@alternative("attention.attention_backward")
def attention_backward_with_jacobians(dout, query, key, value, mask=None):
    query, key, value, dout = (np.asarray(a, dtype=float) for a in (query, key, value, dout))
    weights, scale = _attention_weights(query, key, mask)
    dw = np.einsum("btv,bsv->bts", dout, value)
    # The softmax Jacobian of each row, diag(w) - w w^T, built explicitly.
    jacobian = np.einsum("bts,su->btsu", weights, np.eye(weights.shape[-1])) - np.einsum(
        "bts,btu->btsu", weights, weights
    )
    dscores = np.einsum("btsu,btu->bts", jacobian, dw)
    return (
        np.einsum("bts,bsd->btd", dscores, key) * scale,
        np.einsum("bts,btd->bsd", dscores, query) * scale,
        np.einsum("bts,btv->bsv", weights, dout),
    )


# ------------------------------------------------------------------ layer_norm_forward


@mutant("attention.layer_norm_forward", expect="axis 0")
def layer_norm_over_the_batch(x, gamma, beta, epsilon=1e-3):
    x = np.asarray(x, dtype=float)
    mean, var = x.mean(axis=0, keepdims=True), x.var(axis=0, keepdims=True)  # MISTAKE: batch norm's axis
    return (x - mean) / np.sqrt(var + epsilon) * gamma + beta


@mutant("attention.layer_norm_forward", expect="PyTorch")
def layer_norm_with_torch_epsilon(x, gamma, beta, epsilon=1e-5):
    x = np.asarray(x, dtype=float)
    mean, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + epsilon) * gamma + beta


@mutant("attention.layer_norm_forward", expect="unbiased")
def layer_norm_unbiased_variance(x, gamma, beta, epsilon=1e-3):
    x = np.asarray(x, dtype=float)
    mean, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, ddof=1, keepdims=True)
    return (x - mean) / np.sqrt(var + epsilon) * gamma + beta


@alternative("attention.layer_norm_forward")
def layer_norm_with_np_var(x, gamma, beta, epsilon=1e-3):
    x = np.asarray(x, dtype=float)
    centred = x - x.mean(axis=-1, keepdims=True)
    return centred / np.sqrt(np.var(x, axis=-1, keepdims=True) + epsilon) * gamma + beta


# ------------------------------------------------------------------ layer_norm_backward


@mutant("attention.layer_norm_backward", expect="constants")
def layer_norm_backward_constant_moments(dout, x, gamma, epsilon=1e-3):
    x_hat, inverse = _normalised(x, epsilon)
    rows = tuple(range(np.ndim(dout) - 1))
    return dout * gamma * inverse, (dout * x_hat).sum(axis=rows), np.sum(dout, axis=rows)


@mutant("attention.layer_norm_backward", expect="PyTorch")
def layer_norm_backward_torch_epsilon(dout, x, gamma, epsilon=1e-5):
    x_hat, inverse = _normalised(x, epsilon)
    g = dout * gamma
    dx = inverse * (g - g.mean(axis=-1, keepdims=True) - x_hat * (g * x_hat).mean(axis=-1, keepdims=True))
    rows = tuple(range(np.ndim(dout) - 1))
    return dx, (dout * x_hat).sum(axis=rows), np.sum(dout, axis=rows)


@mutant("attention.layer_norm_backward", expect="dx leaves gamma out")
def layer_norm_backward_without_gamma_in_dx(dout, x, gamma, epsilon=1e-3):
    x_hat, inverse = _normalised(x, epsilon)
    g = dout  # MISTAKE: the gradient reaching x_hat is dout * gamma
    dx = inverse * (g - g.mean(axis=-1, keepdims=True) - x_hat * (g * x_hat).mean(axis=-1, keepdims=True))
    rows = tuple(range(np.ndim(dout) - 1))
    return dx, (dout * x_hat).sum(axis=rows), np.sum(dout, axis=rows)


@alternative("attention.layer_norm_backward")
def layer_norm_backward_step_by_step(dout, x, gamma, epsilon=1e-3):
    # Through each intermediate in turn: y = x_hat*gamma + beta, x_hat = c * inv, c = x - mean, inv = (var+eps)^-1/2
    x = np.asarray(x, dtype=float)
    d = x.shape[-1]
    mean = x.mean(axis=-1, keepdims=True)
    c = x - mean
    var = (c**2).mean(axis=-1, keepdims=True)
    inv = (var + epsilon) ** -0.5
    dx_hat = dout * gamma
    dinv = (dx_hat * c).sum(axis=-1, keepdims=True)
    dvar = dinv * -0.5 * (var + epsilon) ** -1.5
    dc = dx_hat * inv + dvar * 2.0 * c / d
    dx = dc - dc.mean(axis=-1, keepdims=True)
    axes = tuple(range(x.ndim - 1))
    return dx, (dout * c * inv).sum(axis=axes), dout.sum(axis=axes)


# ------------------------------------------------------------------ LayerNormalization


@mutant("attention.LayerNormalization", expect="PyTorch's 1e-5")
class LayerNormalizationTorchDefault(LayerNormalization):
    def __init__(self, epsilon=1e-5, name=None, input_shape=None):
        super().__init__(epsilon=epsilon, name=name, input_shape=input_shape)


@mutant("attention.LayerNormalization", expect="starts gamma at ones")
class LayerNormalizationGammaZeros(LayerNormalization):
    def build(self, input_shape, rng):
        self.weights = [np.zeros(input_shape[-1]), np.zeros(input_shape[-1])]
        self.built = True


@mutant("attention.LayerNormalization", expect=r"self\.grads must hold 2 arrays")
class LayerNormalizationWithoutGrads(LayerNormalization):
    def backward(self, dout):
        dx, _, _ = layer_norm_backward(dout, self._x, self.weights[0], epsilon=self.epsilon)
        return dx


@alternative("attention.LayerNormalization")
class LayerNormalizationCachingXHat(LayerNormalization):
    def forward(self, x, training=False):
        self._x_hat, self._inverse = _normalised(x, self.epsilon)
        return self._x_hat * self.weights[0] + self.weights[1]

    def backward(self, dout):
        g = dout * self.weights[0]
        dx = self._inverse * (g - g.mean(-1, keepdims=True) - self._x_hat * (g * self._x_hat).mean(-1, keepdims=True))
        axes = tuple(range(dout.ndim - 1))
        self.grads = [(dout * self._x_hat).sum(axis=axes), dout.sum(axis=axes)]
        return dx


# ------------------------------------------------------------------ MultiHeadAttention


@mutant("attention.MultiHeadAttention", expect="wrong order")
class MultiHeadAttentionHeadsCutWrongly(MultiHeadAttention):
    """Flat projections (batch, T, heads*key_dim) cut as (key_dim, heads) instead of (heads, key_dim)."""

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
        query = np.asarray(query, dtype=float)
        value = query if value is None else np.asarray(value, dtype=float)
        key = value if key is None else np.asarray(key, dtype=float)
        wq, bq, wk, bk, wv, bv, wo, bo = self.weights

        def split(x, kernel, bias):
            flat = x @ kernel.reshape(kernel.shape[0], -1) + bias.reshape(-1)
            b, t, _ = flat.shape
            return flat.reshape(b, t, kernel.shape[2], self.num_heads).transpose(0, 3, 1, 2)  # MISTAKE

        q, k, v = split(query, wq, bq), split(key, wk, bk), split(value, wv, bv)
        mask = _heads_mask(attention_mask, use_causal_mask, query.shape[1], value.shape[1])
        heads, scores = scaled_dot_product_attention(q, k, v, mask)
        self._cache = (query, key, value, q, k, v, mask, heads)
        b, _, t, _ = heads.shape
        merged = heads.transpose(0, 2, 3, 1).reshape(b, t, -1)  # the same wrong order back
        out = merged @ wo.reshape(-1, wo.shape[-1]) + bo
        return (out, scores) if return_attention_scores else out


@mutant("attention.MultiHeadAttention", expect=r"not divided by sqrt\(key_dim\)")
class MultiHeadAttentionWithoutScale(MultiHeadAttention):
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
        query = np.asarray(query, dtype=float)
        value = query if value is None else np.asarray(value, dtype=float)
        key = value if key is None else np.asarray(key, dtype=float)
        wq, bq, wk, bk, wv, bv, wo, bo = self.weights
        q = np.einsum("btd,dnh->bnth", query, wq) + bq[:, None, :]
        k = np.einsum("bsd,dnh->bnsh", key, wk) + bk[:, None, :]
        v = np.einsum("bsd,dnh->bnsh", value, wv) + bv[:, None, :]
        mask = _heads_mask(attention_mask, use_causal_mask, query.shape[1], value.shape[1])
        scores = _masked_softmax(q @ np.swapaxes(k, -1, -2), mask)  # MISTAKE: no / sqrt(key_dim)
        heads = scores @ v
        self._cache = (query, key, value, q, k, v, mask, heads)
        out = np.einsum("bnth,nhd->btd", heads, wo) + bo
        return (out, scores) if return_attention_scores else out


@mutant("attention.MultiHeadAttention", expect="fans")
class MultiHeadAttentionConvolutionFans(MultiHeadAttention):
    def build(self, input_shape, rng, value_shape=None, key_shape=None):
        super().build(input_shape, rng, value_shape, key_shape)
        for index in (0, 2, 4, 6):  # MISTAKE: glorot of the 3-D shape, fans as a convolution's
            self.weights[index] = glorot_uniform(self.weights[index].shape, rng)


@mutant("attention.MultiHeadAttention", expect="mask is ignored")
class MultiHeadAttentionIgnoringMasks(MultiHeadAttention):
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
        return super().forward(query, value, key, return_attention_scores=return_attention_scores)


@mutant("attention.MultiHeadAttention", expect="wrong triangle")
class MultiHeadAttentionUpperCausal(MultiHeadAttention):
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
        if use_causal_mask:
            T, S = np.shape(query)[1], np.shape(query if value is None else value)[1]
            upper = np.triu(np.ones((T, S), dtype=bool))  # MISTAKE: keys t..S-1
            attention_mask = upper if attention_mask is None else np.asarray(attention_mask, bool) & upper
        return super().forward(
            query, value, key, attention_mask=attention_mask, return_attention_scores=return_attention_scores
        )


@mutant("attention.MultiHeadAttention", expect=r"attention_mask and use_causal_mask.*both")
class MultiHeadAttentionOneMaskAtATime(MultiHeadAttention):
    """An attention_mask, when given, replaces the causal mask instead of joining it."""

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
        causal = use_causal_mask and attention_mask is None  # MISTAKE: a padding mask switches causality off
        return super().forward(
            query,
            value,
            key,
            attention_mask=attention_mask,
            use_causal_mask=causal,
            return_attention_scores=return_attention_scores,
        )


@mutant("attention.MultiHeadAttention", expect=r"key= omitted.*key defaults to value")
class MultiHeadAttentionKeyDefaultingToQuery(MultiHeadAttention):
    """key defaults to the query (as if self-attention), where Keras takes the value."""

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
        if key is None and value is not None:
            key = query  # MISTAKE: Keras uses key = value
        return super().forward(
            query,
            value,
            key,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
            return_attention_scores=return_attention_scores,
        )


@mutant("attention.MultiHeadAttention", expect="sum of the three gradients")
class MultiHeadAttentionOnlyQueryGradient(MultiHeadAttention):
    def backward(self, dout):
        result = super().backward(dout)
        if self._inputs_given[0]:
            return result
        _, _, _, q, k, v, mask, _ = self._cache
        dheads = np.einsum("btd,nhd->bnth", dout, self.weights[6])
        dq, _, _ = attention_backward(dheads, q, k, v, mask)
        return np.einsum("bnth,dnh->btd", dq, self.weights[0])  # MISTAKE: x was also key and value


@alternative("attention.MultiHeadAttention")
class MultiHeadAttentionLoopOverHeads(MultiHeadAttention):
    """One head at a time with your attention functions, kernels sliced per head."""

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
        self._given = (value is not None, key is not None)
        query = np.asarray(query, dtype=float)
        value = query if value is None else np.asarray(value, dtype=float)
        key = value if key is None else np.asarray(key, dtype=float)
        T, S = query.shape[1], value.shape[1]
        mask = (
            None
            if attention_mask is None
            else np.broadcast_to(np.asarray(attention_mask, bool), (query.shape[0], T, S))
        )
        if use_causal_mask:
            mask = causal_mask(T, S)[None] if mask is None else mask & causal_mask(T, S)
        wq, bq, wk, bk, wv, bv, wo, bo = self.weights
        out, scores, self._heads = bo + 0.0 * query[..., :1], [], []
        for n in range(self.num_heads):
            q, k, v = query @ wq[:, n] + bq[n], key @ wk[:, n] + bk[n], value @ wv[:, n] + bv[n]
            head, weights = scaled_dot_product_attention(q, k, v, mask)
            out = out + head @ wo[n]
            scores.append(weights)
            self._heads.append((q, k, v, head))
        self._saved = (query, key, value, mask)
        return (out, np.stack(scores, axis=1)) if return_attention_scores else out

    def backward(self, dout):
        query, key, value, mask = self._saved
        wo = self.weights[6]
        grads = [np.zeros_like(w) for w in self.weights]
        dquery, dkey, dvalue = np.zeros_like(query), np.zeros_like(key), np.zeros_like(value)
        for n, (q, k, v, head) in enumerate(self._heads):
            grads[6][n] = np.einsum("bth,btd->hd", head, dout)
            dq, dk, dv = attention_backward(dout @ wo[n].T, q, k, v, mask)
            for index, (x, dh, total) in enumerate(((query, dq, dquery), (key, dk, dkey), (value, dv, dvalue))):
                grads[2 * index][:, n] = np.einsum("btd,bth->dh", x, dh)
                grads[2 * index + 1][n] = dh.sum(axis=(0, 1))
                total += dh @ self.weights[2 * index][:, n].T
        grads[7] = dout.sum(axis=(0, 1))
        self.grads = grads
        if not self._given[0]:
            return dquery + dkey + dvalue
        return (dquery, dvalue + dkey) if not self._given[1] else (dquery, dvalue, dkey)


@alternative("attention.MultiHeadAttention")
class MultiHeadAttentionFlatMatmul(MultiHeadAttention):
    """Kernels flattened to 2-D matrices, one matmul per projection, then reshapes (the heads fused)."""

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
        query = np.asarray(query, dtype=float)
        value = query if value is None else np.asarray(value, dtype=float)
        key = value if key is None else np.asarray(key, dtype=float)
        wq, bq, wk, bk, wv, bv, wo, bo = self.weights

        def split(x, kernel, bias):
            flat = x @ kernel.reshape(kernel.shape[0], -1) + bias.reshape(-1)
            b, t, _ = flat.shape
            return flat.reshape(b, t, self.num_heads, kernel.shape[2]).transpose(0, 2, 1, 3)

        q, k, v = split(query, wq, bq), split(key, wk, bk), split(value, wv, bv)
        mask = _heads_mask(attention_mask, use_causal_mask, query.shape[1], value.shape[1])
        heads, scores = scaled_dot_product_attention(q, k, v, mask)
        self._cache = (query, key, value, q, k, v, mask, heads)
        b, _, t, _ = heads.shape
        out = heads.transpose(0, 2, 1, 3).reshape(b, t, -1) @ wo.reshape(-1, wo.shape[-1]) + bo
        return (out, scores) if return_attention_scores else out


# ------------------------------------------------------------------ TokenAndPositionEmbedding


@mutant("attention.TokenAndPositionEmbedding", expect="position vectors are missing")
class TokenEmbeddingWithoutPositions(TokenAndPositionEmbedding):
    def forward(self, x, training=False):
        self._ids = np.asarray(x).astype(int)
        return embedding_forward(self._ids, self.weights[0])


@mutant("attention.TokenAndPositionEmbedding", expect="sum dout over the batch")
class PositionGradientAveraged(TokenAndPositionEmbedding):
    def backward(self, dout):
        dposition = np.zeros_like(self.weights[1])
        dposition[: dout.shape[1]] = dout.mean(axis=0)  # MISTAKE: the batch's mean, not its sum
        self.grads = [embedding_backward(dout, self._ids, self.vocab_size), dposition]


@mutant("attention.TokenAndPositionEmbedding", expect="floats")
class TokenEmbeddingIndexingWithFloats(TokenAndPositionEmbedding):
    def forward(self, x, training=False):
        self._ids = np.asarray(x)
        return self.weights[0][self._ids] + self.weights[1][: self._ids.shape[1]]


@alternative("attention.TokenAndPositionEmbedding")
class TokenAndPositionEmbeddingOneHot(TokenAndPositionEmbedding):
    def forward(self, x, training=False):
        ids = np.asarray(x).astype(int)
        self._one_hot = np.eye(self.vocab_size)[ids]
        self._steps = ids.shape[1]
        return self._one_hot @ self.weights[0] + self.weights[1][np.arange(self._steps)][None]

    def backward(self, dout):
        dposition = np.zeros_like(self.weights[1])
        np.add.at(dposition, np.arange(self._steps), dout.sum(axis=0))
        self.grads = [np.einsum("btv,btd->vd", self._one_hot, dout), dposition]


# ------------------------------------------------------------------ GlobalAveragePooling1D


@mutant("attention.GlobalAveragePooling1D", expect="unmasked steps")
class PoolingDividingByAllSteps(GlobalAveragePooling1D):
    def forward(self, x, training=False, mask=None):
        keep = np.ones(np.shape(x)[:2]) if mask is None else np.asarray(mask, dtype=float)
        self._keep = keep / np.shape(x)[1]
        return (np.asarray(x) * keep[..., None]).sum(axis=1) / np.shape(x)[1]  # MISTAKE

    def backward(self, dout):
        return self._keep[..., None] * dout[:, None, :]


@mutant("attention.GlobalAveragePooling1D", expect="spread dout")
class PoolingCopyingTheGradient(GlobalAveragePooling1D):
    def backward(self, dout):
        return (self._weights_per_step[..., None] > 0) * dout[:, None, :]  # MISTAKE: not divided


@alternative("attention.GlobalAveragePooling1D")
class PoolingWithNpAverage(GlobalAveragePooling1D):
    def forward(self, x, training=False, mask=None):
        x = np.asarray(x, dtype=float)
        steps = np.ones(x.shape[:2]) if mask is None else np.asarray(mask, dtype=float)
        self._share = steps / steps.sum(axis=1, keepdims=True)
        return np.stack(
            [np.average(np.where(steps[b][:, None] > 0, x[b], 0.0), axis=0, weights=steps[b]) for b in range(len(x))]
        )

    def backward(self, dout):
        return np.einsum("bt,bf->btf", self._share, dout)


# ------------------------------------------------------------------ TransformerBlock


@mutant("attention.TransformerBlock", expect="residual was added after the normalisation")
class TransformerBlockAddAfterNorm(TransformerBlock):
    def forward(self, x, training=False):
        x = np.asarray(x, dtype=float)
        h = x + self.norm1.forward(self.attention.forward(x))  # MISTAKE: x + LN(a), not LN(x + a)
        return h + self.norm2.forward(self.projection.forward(self.hidden.forward(h)))


@mutant("attention.TransformerBlock", expect="pre-norm")
class TransformerBlockPreNorm(TransformerBlock):
    def forward(self, x, training=False):
        x = np.asarray(x, dtype=float)
        h = x + self.attention.forward(self.norm1.forward(x))
        return h + self.projection.forward(self.hidden.forward(self.norm2.forward(h)))


@mutant("attention.TransformerBlock", expect=r"weight 0 has shape \(8,\)")
class TransformerBlockNormsFirst(TransformerBlock):
    def build(self, input_shape, rng):
        super().build(input_shape, rng)
        order = [self.norm1, self.norm2, self.attention, self.hidden, self.projection]  # MISTAKE: not Keras's
        self.weights = [w for layer in order for w in layer.weights]


@mutant("attention.TransformerBlock", expect=r"returned dx")
class TransformerBlockWithoutResidualGradient(TransformerBlock):
    def backward(self, dout):
        dsum2 = self.norm2.backward(dout)
        dh = dsum2 + self.hidden.backward(self.projection.backward(dsum2))
        dsum1 = self.norm1.backward(dh)
        dx = self.attention.backward(dsum1)  # MISTAKE: the residual's own path into x is missing
        self.grads = [g for layer in self.sublayers for g in layer.grads]
        return dx


@mutant(
    "attention.TransformerBlock",
    expect=r"first step that differs is the first LayerNormalization .*\(the second LayerNormalization, the "
    r"feed-forward network match\): check the residual path into h",
)
class TransformerBlockWithoutSecondResidualGradient(TransformerBlock):
    def backward(self, dout):
        dsum2 = self.norm2.backward(dout)
        dh = self.hidden.backward(self.projection.backward(dsum2))  # MISTAKE: + dsum2, the residual path, left out
        dsum1 = self.norm1.backward(dh)
        dx = dsum1 + self.attention.backward(dsum1)
        self.grads = [g for layer in self.sublayers for g in layer.grads]
        return dx


@mutant("attention.TransformerBlock", expect=r"the second residual is missing: the block returned LN\(ffn\(h\)\)")
class TransformerBlockWithoutSecondResidual(TransformerBlock):
    def forward(self, x, training=False):
        x = np.asarray(x, dtype=float)
        h = self.norm1.forward(x + self.attention.forward(x))
        return self.norm2.forward(self.projection.forward(self.hidden.forward(h)))  # MISTAKE: h + ffn(h)


@alternative("attention.TransformerBlock")
class TransformerBlockWrittenOut(TransformerBlock):
    def forward(self, x, training=False):
        self._x = np.asarray(x, dtype=float)
        self._a = self.attention.forward(self._x)
        h = self.norm1.forward(self._x + self._a)
        hidden = self.hidden.forward(h)
        return self.norm2.forward(h + self.projection.forward(hidden))

    def backward(self, dout):
        through_norm2 = self.norm2.backward(dout)
        through_ffn = self.hidden.backward(self.projection.backward(through_norm2))
        through_norm1 = self.norm1.backward(through_norm2 + through_ffn)
        through_attention = self.attention.backward(through_norm1)
        self.grads = [
            *self.attention.grads,
            *self.hidden.grads,
            *self.projection.grads,
            *self.norm1.grads,
            *self.norm2.grads,
        ]
        return through_norm1 + through_attention


# ------------------------------------------------------------------ capstones (their target: TransformerBlock)


@mutant("attention.text_transformer", expect="logged loss")
class TransformerBlockForgettingTheResidualGradient(TransformerBlock):
    def backward(self, dout):
        dsum2 = self.norm2.backward(dout)
        dh = self.hidden.backward(self.projection.backward(dsum2))  # MISTAKE: drops dsum2's direct path
        dsum1 = self.norm1.backward(dh)
        dx = dsum1 + self.attention.backward(dsum1)
        self.grads = [g for layer in self.sublayers for g in layer.grads]
        return dx


@mutant("attention.text_transformer", expect="weights have shapes")
class TransformerBlockKerasOrderIgnored(TransformerBlock):
    def build(self, input_shape, rng):
        super().build(input_shape, rng)
        order = [self.hidden, self.projection, self.attention, self.norm1, self.norm2]
        self.weights = [w for layer in order for w in layer.weights]


@alternative("attention.text_transformer")
class TransformerBlockWithOwnSublayerList(TransformerBlock):
    def build(self, input_shape, rng):
        super().build(input_shape, rng)
        self.weights = []
        for layer in (self.attention, self.hidden, self.projection, self.norm1, self.norm2):
            self.weights.extend(layer.weights)

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads = list(
            self.attention.grads + self.hidden.grads + self.projection.grads + self.norm1.grads + self.norm2.grads
        )
        return dx


@mutant("attention.reads_negation", expect="reached")
class TransformerBlockNoGradientIntoTheEmbedding(TransformerBlock):
    """The block trains its own weights but sends nothing back: the position table never learns,
    so the model cannot tell 'not good' from 'good ... not'."""

    def backward(self, dout):
        super().backward(dout)
        return np.zeros_like(self.norm1._x)


@alternative("attention.reads_negation")
class TransformerBlockReadsNegationWrittenOut(TransformerBlock):
    def forward(self, x, training=False):
        x = np.asarray(x, dtype=float)
        h = self.norm1.forward(x + self.attention.forward(x))
        return self.norm2.forward(h + self.projection.forward(self.hidden.forward(h)))

    def backward(self, dout):
        d2 = self.norm2.backward(dout)
        d1 = self.norm1.backward(d2 + self.hidden.backward(self.projection.backward(d2)))
        dx = d1 + self.attention.backward(d1)
        self.grads = [g for layer in self.sublayers for g in layer.grads]
        return dx


# ---- blind sweep (issue 24, round 3): written from the answer key, before reading the kata's tests


@mutant("attention.scaled_dot_product_attention", expect=r"the scores were multiplied by the mask")
def attention_masked_by_multiplying_the_scores(query, key, value, mask=None):
    # MISTAKE: scores * mask: a masked score becomes 0, which still gets exp(0 - max) of the weight.
    query, key, value = (np.asarray(a, dtype=np.float64) for a in (query, key, value))
    scores = query @ np.swapaxes(key, -1, -2) / np.sqrt(query.shape[-1])
    if mask is not None:
        scores = scores * np.asarray(mask, dtype=float)
    weights = softmax(scores, axis=-1)
    return weights @ value, weights


@mutant("attention.scaled_dot_product_attention", expect=r"a fully masked row got uniform weights 1/S")
def attention_fully_masked_rows_uniform(query, key, value, mask=None):
    # MISTAKE: masked scores set to -1e9, and nothing more: a row with every key masked gets 1/S everywhere
    # (Keras's Softmax gives such a row zeros).
    query, key, value = (np.asarray(a, dtype=np.float64) for a in (query, key, value))
    scores = query @ np.swapaxes(key, -1, -2) / np.sqrt(query.shape[-1])
    if mask is not None:
        scores = np.where(np.broadcast_to(np.asarray(mask, dtype=bool), scores.shape), scores, -1e9)
    weights = softmax(scores, axis=-1)
    return weights @ value, weights


@mutant("attention.layer_norm_forward", expect=r"PyTorch's epsilon \(1e-5\)")
def layer_norm_forward_pytorch_epsilon(x, gamma, beta, epsilon=1e-5):
    # MISTAKE: PyTorch's default epsilon (1e-5); Keras's LayerNormalization defaults to 1e-3.
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    variance = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


@mutant("attention.MultiHeadAttention", expect=r"Keras's key defaults to value")
class MultiHeadAttentionKeyDefaultsToQuery(MultiHeadAttention):
    # MISTAKE: key omitted -> key = query (Keras: key = value).
    def forward(self, query, value=None, key=None, **options):
        if key is None and value is not None:
            key = query
        return super().forward(query, value, key, **options)


@mutant("attention.GlobalAveragePooling1D", expect=r"a masked step's NaN or inf reached the mean")
class GlobalAveragePooling1DMaskByMultiplying(GlobalAveragePooling1D):
    # MISTAKE: (x * mask).sum / mask.sum: a NaN or inf in a masked step still reaches the sum (NaN * 0 = NaN).
    def forward(self, x, training=False, mask=None):
        x = np.asarray(x, dtype=np.float64)
        self._weights_per_step = self._step_weights(x.shape, mask)
        with np.errstate(invalid="ignore"):
            return np.einsum("bt,btf->bf", self._weights_per_step, x)


@alternative("attention.layer_norm_forward")
def layer_norm_forward_with_np_var(x, gamma, beta, epsilon=1e-3):
    x = np.asarray(x, dtype=np.float64)
    centred = x - x.mean(axis=-1, keepdims=True)
    return centred / np.sqrt(np.var(x, axis=-1, keepdims=True) + epsilon) * gamma + beta


# second blind batch: the layers


@mutant("attention.LayerNormalization", expect=r"epsilon=1e-6, the value Keras's Transformer tutorial passes")
class LayerNormalizationTutorialEpsilon(LayerNormalization):
    # MISTAKE: the Transformer tutorial's epsilon=1e-6 made the default; Keras's default is 1e-3.
    def __init__(self, epsilon=1e-6, name=None, input_shape=None):
        super().__init__(epsilon=epsilon, name=name, input_shape=input_shape)


@mutant("attention.TokenAndPositionEmbedding", expect=r"sum dout over the batch")
class TokenAndPositionEmbeddingAveragedPositionGradient(TokenAndPositionEmbedding):
    # MISTAKE: the position table's gradient averaged over the batch instead of summed.
    def backward(self, dout):
        dout = np.asarray(dout, dtype=np.float64)
        dposition = np.zeros_like(self.weights[1])
        dposition[: dout.shape[1]] = dout.mean(axis=0)
        self.grads = [embedding_backward(dout, self._ids, self.vocab_size), dposition]


# third blind batch


@mutant("attention.attention_backward", expect=r"the backward ignored the mask")
def attention_backward_ignoring_the_mask(dout, query, key, value, mask=None):
    # MISTAKE: the backward recomputes the weights without the mask (the forward used it).
    query, key, value, dout = (np.asarray(a, dtype=np.float64) for a in (query, key, value, dout))
    scale = 1.0 / np.sqrt(query.shape[-1])
    weights = softmax(query @ np.swapaxes(key, -1, -2) * scale, axis=-1)
    dvalue = np.swapaxes(weights, -1, -2) @ dout
    dweights = dout @ np.swapaxes(value, -1, -2)
    dscores = weights * (dweights - np.sum(dweights * weights, axis=-1, keepdims=True))
    return (dscores @ key) * scale, (np.swapaxes(dscores, -1, -2) @ query) * scale, dvalue
