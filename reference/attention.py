"""Reference answers for the `attention` track, computed by Keras (float64) and ``tf.GradientTape``.

* Attention itself comes from a real ``keras.layers.MultiHeadAttention`` with
  one head whose four projections are identity matrices and whose biases are
  zero (exact in floating point: ``x * 1 + y * 0``), called with
  ``return_attention_scores=True``. That call takes Keras's explicit path
  (scores, ``keras.layers.Softmax`` with the mask, weights @ values), the one
  whose fully masked rows get all-zero weights. (Without
  ``return_attention_scores`` Keras 3 routes through
  ``ops.dot_product_attention``, whose fully masked rows get *uniform*
  weights instead: the same for every row that has a key to attend to.)
* Known mistakes (no scale, softmax over the queries, a mask applied after the
  softmax) are computed with ``keras.ops`` and ``keras.layers.Softmax``, so
  that a test can name them.
* Layers and models are Keras layers loaded with the test's weights
  (``set_weights``); the token-plus-position embedding and the Transformer
  block are the custom layers of Keras's text-classification example
  ("Text classification with Transformer"), built from Keras layers.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from dojo.refcache import cache_public_functions
from dojo.refcache.store import live, memo_key

from ._engine import constant, keras, tf
from .model import first_batch_gradients_of, float64_everywhere

_CACHE: dict[str, object] = {}


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _bool(mask, shape):
    return None if mask is None else tf().constant(np.broadcast_to(np.asarray(mask, dtype=bool), shape))


# ----------------------------------------------------------------- attention


def _identity_attention(features, value_features):
    """One-head MultiHeadAttention whose projections do nothing: it computes bare attention."""
    k = keras()
    layer = k.layers.MultiHeadAttention(
        num_heads=1, key_dim=features, value_dim=value_features, output_shape=(value_features,), dtype="float64"
    )
    layer.build((None, None, features), (None, None, value_features), (None, None, features))
    eye_k, eye_v = np.eye(features)[:, None, :], np.eye(value_features)[:, None, :]
    layer.set_weights(
        [
            eye_k,
            np.zeros((1, features)),
            eye_k,
            np.zeros((1, features)),
            eye_v,
            np.zeros((1, value_features)),
            np.eye(value_features)[None],
            np.zeros(value_features),
        ]
    )
    return layer


def _attention_call(query, key, value, mask):
    query, key, value = (_f64(a) for a in (query, key, value))
    layer = _identity_attention(query.shape[-1], value.shape[-1])
    shape = (query.shape[0], query.shape[1], key.shape[1])
    return (
        layer,
        (lambda q, k, v: layer(q, v, key=k, attention_mask=_bool(mask, shape), return_attention_scores=True)),
        (query, key, value),
    )


def scaled_dot_product_attention(query, key, value, mask=None):
    """``(output (batch, T, dv), weights (batch, T, S))`` from Keras's MultiHeadAttention."""
    _, run, inputs = _attention_call(query, key, value, mask)
    output, scores = run(*(constant(a) for a in inputs))
    return output.numpy(), scores.numpy()[:, 0]


def attention_backward(dout, query, key, value, mask=None):
    """``(dquery, dkey, dvalue)`` of ``sum(output * dout)``, by GradientTape through Keras's layer."""
    _, run, inputs = _attention_call(query, key, value, mask)
    variables = [tf().Variable(a) for a in inputs]
    with tf().GradientTape() as tape:
        output, _ = run(*variables)
        target = tf().reduce_sum(output * constant(dout))
    return tuple(g.numpy() for g in tape.gradient(target, variables))


def attention_variant(query, key, value, mask=None, *, scaled=True, softmax_axis=-1, mask_mode="keras"):
    """Attention with one known mistake, in Keras ops: ``(output, weights)``.

    ``scaled=False``: no ``1/sqrt(d)``. ``softmax_axis=-2``: normalised over
    the queries. ``mask_mode``: ``"keras"`` (fill -1e9, softmax, zero the masked
    weights), ``"after"`` (softmax over every key, then zero the masked
    weights: rows no longer sum to 1), ``"no_zeroing"`` (fill -1e9 and stop:
    a fully masked row becomes uniform), ``"ignored"``.
    """
    k = keras()
    ops = k.ops
    q, kk, v = (constant(a) for a in (query, key, value))
    scores = ops.einsum("btd,bsd->bts", q, kk)
    if scaled:
        scores = scores / np.sqrt(np.shape(query)[-1])
    shape = tuple(scores.shape)
    m = _bool(mask, shape) if mask_mode != "ignored" else None
    if m is None or mask_mode == "keras":
        weights = k.layers.Softmax(axis=softmax_axis, dtype="float64")(scores, mask=m)
    elif mask_mode == "after":
        weights = ops.where(m, ops.softmax(scores, axis=softmax_axis), 0.0)
    elif mask_mode == "no_zeroing":
        weights = ops.softmax(ops.where(m, scores, -1e9), axis=softmax_axis)
    elif mask_mode == "added":
        adder = (1.0 - ops.cast(m, scores.dtype)) * -1e9
        weights = ops.where(m, ops.softmax(scores + adder, axis=softmax_axis), 0.0)
    else:
        raise ValueError(f"unknown mask_mode {mask_mode!r}")
    return ops.einsum("bts,bsd->btd", weights, v).numpy(), weights.numpy()


def attention_backward_without_softmax(dout, query, key, value, mask=None):
    """The gradients with the weights held constant (``tf.stop_gradient``): only ``dvalue`` flows."""
    t = tf()
    layer, _, inputs = _attention_call(query, key, value, mask)
    variables = [t.Variable(a) for a in inputs]
    with t.GradientTape() as tape:
        _, weights = layer(
            variables[0],
            variables[2],
            key=variables[1],
            attention_mask=_bool(mask, (inputs[0].shape[0], inputs[0].shape[1], inputs[1].shape[1])),
            return_attention_scores=True,
        )
        output = t.einsum("bts,bsd->btd", t.stop_gradient(weights[:, 0]), variables[2])
        target = t.reduce_sum(output * constant(dout))
    return tuple(np.zeros_like(a) if g is None else g.numpy() for a, g in zip(inputs, tape.gradient(target, variables)))


# ---------------------------------------------------------------- layer norm


def _layer_norm(features, epsilon, gamma=None, beta=None, **options):
    layer = keras().layers.LayerNormalization(epsilon=epsilon, dtype="float64", **options)
    layer.build((None, features))
    if gamma is not None:
        layer.set_weights([_f64(gamma), _f64(beta)])
    return layer


def layer_norm_forward(x, gamma, beta, epsilon=1e-3):
    x = _f64(x)
    return _layer_norm(x.shape[-1], epsilon, gamma, beta)(constant(x)).numpy()


def layer_norm_backward(dout, x, gamma, epsilon=1e-3):
    """``(dx, dgamma, dbeta)`` of ``sum(LayerNormalization(x) * dout)`` by GradientTape."""
    x = _f64(x)
    layer = _layer_norm(x.shape[-1], epsilon, gamma, np.zeros_like(_f64(gamma)))
    xv = tf().Variable(x)
    with tf().GradientTape() as tape:
        target = tf().reduce_sum(layer(xv) * constant(dout))
    grads = tape.gradient(target, [xv, *layer.trainable_weights])
    return tuple(g.numpy() for g in grads)


def layer_norm_over_axes(x, gamma, beta, axes, epsilon=1e-3):
    """The mistake "normalised over other axes": Keras's LayerNormalization(axis=axes) without its
    own scale and centre, then ``* gamma + beta`` on the features."""
    x = _f64(x)
    layer = keras().layers.LayerNormalization(axis=axes, epsilon=epsilon, center=False, scale=False, dtype="float64")
    return layer(constant(x)).numpy() * _f64(gamma) + _f64(beta)


def layer_norm_backward_constant_moments(dout, x, gamma, epsilon=1e-3):
    """The gradients when mean and variance are treated as constants (``tf.stop_gradient``)."""
    t, ops = tf(), keras().ops
    x = _f64(x)
    xv = t.Variable(x)
    gv, bv = t.Variable(_f64(gamma)), t.Variable(np.zeros(x.shape[-1]))
    with t.GradientTape() as tape:
        mean, variance = ops.moments(xv, axes=[-1], keepdims=True)
        y = (xv - t.stop_gradient(mean)) * ops.rsqrt(t.stop_gradient(variance) + epsilon) * gv + bv
        target = t.reduce_sum(y * constant(dout))
    return tuple(g.numpy() for g in tape.gradient(target, [xv, gv, bv]))


def _facts(layer_or_model) -> dict:
    """What a fresh Keras layer or model holds, as data: its weights (Keras order) and parameter counts."""
    facts = {
        "weights": [np.asarray(w) for w in layer_or_model.get_weights()],
        "count_params": int(layer_or_model.count_params()),
    }
    if hasattr(layer_or_model, "layers") and isinstance(layer_or_model, keras().Model):
        facts["layer_params"] = [int(layer.count_params()) for layer in layer_or_model.layers]
    return facts


def fresh_layer_norm(features, epsilon=1e-3) -> dict:
    """A fresh ``keras.layers.LayerNormalization``'s weights and parameter count."""
    return _facts(_layer_norm(features, epsilon))


# ------------------------------------------------------------- MultiHeadAttention


def fresh_multi_head_attention(
    num_heads, key_dim, query_shape, value_shape=None, seed=0, value_dim=None, key_shape=None
):
    """A built Keras MultiHeadAttention's own initial weights and parameter count, as data."""
    keras().utils.set_random_seed(seed)
    layer = keras().layers.MultiHeadAttention(
        num_heads=num_heads, key_dim=key_dim, value_dim=value_dim, dtype="float64"
    )
    value_shape = value_shape or query_shape
    layer.build((None, *query_shape), (None, *value_shape), (None, *(key_shape or value_shape)))
    return _facts(layer)


def _mha(weights, num_heads, key_dim, query_shape, value_shape, key_shape, value_dim=None):
    layer = keras().layers.MultiHeadAttention(
        num_heads=num_heads, key_dim=key_dim, value_dim=value_dim, dtype="float64"
    )
    layer.build((None, *query_shape), (None, *value_shape), (None, *key_shape))
    layer.set_weights([_f64(w) for w in weights])
    return layer


def _mha_run(weights, num_heads, key_dim, query, value, key, attention_mask, use_causal_mask, value_dim):
    query = _f64(query)
    value = query if value is None else _f64(value)
    key = value if key is None else _f64(key)
    layer = _mha(weights, num_heads, key_dim, query.shape[1:], value.shape[1:], key.shape[1:], value_dim)
    mask = None
    if attention_mask is not None:
        mask = tf().constant(
            np.broadcast_to(np.asarray(attention_mask, dtype=bool), (query.shape[0], query.shape[1], value.shape[1]))
        )

    def run(q, v, k):
        return layer(q, v, key=k, attention_mask=mask, use_causal_mask=use_causal_mask, return_attention_scores=True)

    return layer, run, (query, value, key)


def multi_head_attention(
    weights, num_heads, key_dim, query, value=None, key=None, attention_mask=None, use_causal_mask=False, value_dim=None
):
    """``(output, scores (batch, heads, T, S))`` of Keras's MultiHeadAttention holding ``weights``."""
    _, run, inputs = _mha_run(
        weights, num_heads, key_dim, query, value, key, attention_mask, use_causal_mask, value_dim
    )
    output, scores = run(*(constant(a) for a in inputs))
    return output.numpy(), scores.numpy()


def multi_head_attention_default_path(
    weights, num_heads, key_dim, query, value=None, key=None, attention_mask=None, use_causal_mask=False, value_dim=None
):
    """The plain call (no scores): Keras's fused ``ops.dot_product_attention`` path."""
    layer, _, (q, v, k) = _mha_run(weights, num_heads, key_dim, query, value, key, None, use_causal_mask, value_dim)
    mask = (
        None
        if attention_mask is None
        else constant(
            np.broadcast_to(np.asarray(attention_mask, dtype=bool), (q.shape[0], q.shape[1], v.shape[1])), "bool"
        )
    )
    return layer(
        constant(q), constant(v), key=constant(k), attention_mask=mask, use_causal_mask=use_causal_mask
    ).numpy()


def multi_head_attention_backward(
    dout,
    weights,
    num_heads,
    key_dim,
    query,
    value=None,
    key=None,
    attention_mask=None,
    use_causal_mask=False,
    value_dim=None,
):
    """``(dquery, dvalue, dkey, [d weight for each of the 8 weights])`` by GradientTape.

    For self-attention (``value`` and ``key`` None) the one input is watched
    once, so ``dquery`` is the whole input gradient and ``dvalue``/``dkey`` are None.
    """
    t = tf()
    layer, run, (q, v, k) = _mha_run(
        weights, num_heads, key_dim, query, value, key, attention_mask, use_causal_mask, value_dim
    )
    qv = t.Variable(q)
    vv = qv if value is None else t.Variable(v)
    kv = vv if key is None else t.Variable(k)
    with t.GradientTape() as tape:
        output, _ = run(qv, vv, kv)
        target = t.reduce_sum(output * constant(dout))
    watched = [qv] + ([vv] if value is not None else []) + ([kv] if key is not None else [])
    grads = tape.gradient(target, watched + list(layer.trainable_weights))
    inputs = [g.numpy() for g in grads[: len(watched)]]
    inputs += [None] * (3 - len(inputs))
    return (*inputs, [g.numpy() for g in grads[len(watched) :]])


# ------------------------------------------------------------------ layers of the example


@lru_cache(maxsize=1)
@live
def custom_layers():
    """``(TokenAndPositionEmbedding, TransformerBlock)``: the custom layers of Keras's example, in Keras.

    ``TransformerBlock(..., layout=...)`` also builds three known mistakes:
    ``"add_after_norm"`` (``x + LN(attention(x))``: the residual added after
    the normalisation), ``"pre_norm"`` (``x + attention(LN(x))``, the
    pre-norm block of later Transformers, a different model) and
    ``"no_second_residual"`` (``LN(ffn(h))``: the feed-forward's residual left out).
    """
    k = keras()

    class TokenAndPositionEmbedding(k.layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.token_emb = k.layers.Embedding(vocab_size, embed_dim, dtype=self.dtype_policy)
            self.pos_emb = k.layers.Embedding(maxlen, embed_dim, dtype=self.dtype_policy)

        def build(self, input_shape):
            self.token_emb.build(input_shape)
            self.pos_emb.build((input_shape[-1],))

        def call(self, x):
            positions = k.ops.arange(0, k.ops.shape(x)[-1])
            return self.token_emb(x) + self.pos_emb(positions)

    class TransformerBlock(k.layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, key_dim, epsilon=1e-3, layout="post", **kwargs):
            super().__init__(**kwargs)
            policy = self.dtype_policy
            self.att = k.layers.MultiHeadAttention(num_heads=num_heads, key_dim=key_dim, dtype=policy)
            self.ffn = k.Sequential(
                [k.layers.Dense(ff_dim, activation="relu", dtype=policy), k.layers.Dense(embed_dim, dtype=policy)]
            )
            self.layernorm1 = k.layers.LayerNormalization(epsilon=epsilon, dtype=policy)
            self.layernorm2 = k.layers.LayerNormalization(epsilon=epsilon, dtype=policy)
            self.layout = layout

        def build(self, input_shape):
            self.att.build(input_shape, input_shape)
            self.ffn.build(input_shape)
            self.layernorm1.build(input_shape)
            self.layernorm2.build(input_shape)

        def call(self, inputs):
            if self.layout == "pre_norm":
                h = inputs + self.att(self.layernorm1(inputs), self.layernorm1(inputs))
                return h + self.ffn(self.layernorm2(h))
            if self.layout == "add_after_norm":
                h = inputs + self.layernorm1(self.att(inputs, inputs))
                return h + self.layernorm2(self.ffn(h))
            if self.layout == "no_second_residual":
                h = self.layernorm1(inputs + self.att(inputs, inputs))
                return self.layernorm2(self.ffn(h))
            h = self.layernorm1(inputs + self.att(inputs, inputs))
            return self.layernorm2(h + self.ffn(h))

    return TokenAndPositionEmbedding, TransformerBlock


def _run_layer(layer, weights, x, dout, integer_input=False, **call):
    """Forward (and, with ``dout``, GradientTape backward) of a built Keras layer with ``weights``."""
    if weights is not None:
        layer.set_weights([_f64(w) for w in weights])
    t = tf()
    if integer_input:
        out = layer(t.constant(np.asarray(x), dtype="int64"), **call)
        if dout is None:
            return out.numpy()
        with t.GradientTape() as tape:
            target = t.reduce_sum(layer(t.constant(np.asarray(x), dtype="int64"), **call) * constant(dout))
        grads = tape.gradient(target, layer.trainable_weights)
        return out.numpy(), None, [t.convert_to_tensor(g).numpy() for g in grads]
    xv = t.Variable(_f64(x))
    with t.GradientTape() as tape:
        out = layer(xv, **call)
        target = t.reduce_sum(out * constant(dout)) if dout is not None else t.reduce_sum(out)
    if dout is None:
        return out.numpy()
    grads = tape.gradient(target, [xv, *layer.trainable_weights])
    return out.numpy(), grads[0].numpy(), [g.numpy() for g in grads[1:]]


def token_and_position_embedding(maxlen, vocab_size, embed_dim, weights=None, ids=None, dout=None, seed=0):
    """Keras's example layer: its fresh weights and count (``_facts``), or ``(out, None, [dtoken, dposition])``
    for ``ids``."""
    keras().utils.set_random_seed(seed)
    layer_class, _ = custom_layers()
    layer = layer_class(maxlen, vocab_size, embed_dim, dtype="float64")
    layer.build((None, maxlen))
    if ids is None:
        return _facts(layer)
    return _run_layer(layer, weights, ids, dout, integer_input=True)


def global_average_pooling_1d(x, mask=None, dout=None):
    """``keras.layers.GlobalAveragePooling1D()(x, mask=mask)``; with ``dout``, also its dx by GradientTape."""
    layer = keras().layers.GlobalAveragePooling1D(dtype="float64")
    call = {} if mask is None else {"mask": tf().constant(np.asarray(mask, dtype=bool))}
    if dout is None:
        return layer(constant(x), **call).numpy()
    out, dx, _ = _run_layer(layer, None, x, dout, **call)
    return out, dx


def transformer_block(
    embed_dim, num_heads, ff_dim, key_dim, x=None, weights=None, dout=None, epsilon=1e-3, layout="post", seed=0
):
    """Keras's example block: its fresh weights and count (``_facts``), or its output for ``x``, or
    ``(out, dx, [d weights])`` with ``dout``."""
    keras().utils.set_random_seed(seed)
    _, block_class = custom_layers()
    block = block_class(embed_dim, num_heads, ff_dim, key_dim, epsilon=epsilon, layout=layout, dtype="float64")
    steps = None if x is None else np.shape(x)[1]
    block.build((None, steps, embed_dim))
    if x is None:
        return _facts(block)
    return _run_layer(block, weights, x, dout)


# ----------------------------------------------------------------- the capstone


def text_transformer(vocab_size, maxlen, embed_dim, num_heads, ff_dim, key_dim, epsilon=1e-3, seed=0) -> dict:
    """The example's classifier in Keras from ``seed``: its initial weights and parameter counts (by layer)."""
    return _facts(_text_transformer(vocab_size, maxlen, embed_dim, num_heads, ff_dim, key_dim, epsilon, seed))


def _text_transformer(vocab_size, maxlen, embed_dim, num_heads, ff_dim, key_dim, epsilon=1e-3, seed=0):
    """The example's classifier in Keras, float64: TokenAndPositionEmbedding -> TransformerBlock ->
    GlobalAveragePooling1D -> Dense(1, sigmoid)."""
    k = keras()
    k.utils.set_random_seed(seed)
    embedding_class, block_class = custom_layers()
    with float64_everywhere():
        return k.Sequential(
            [
                k.Input(shape=(maxlen,), dtype="int64"),
                embedding_class(maxlen, vocab_size, embed_dim, dtype="float64"),
                block_class(embed_dim, num_heads, ff_dim, key_dim, epsilon=epsilon, dtype="float64"),
                k.layers.GlobalAveragePooling1D(dtype="float64"),
                k.layers.Dense(1, activation="sigmoid", dtype="float64"),
            ]
        )


def text_transformer_fit(spec: dict, weights, x, y, optimizer: tuple, epochs: int, batch_size: int = 32):
    """``(predictions before training, per-epoch losses, weights after)`` of ``fit(shuffle=False)``
    on the Keras model of ``spec`` (the arguments of :func:`text_transformer`) from ``weights``.
    Cached for the process: the mutation self-tests ask for the same run many times."""
    key = memo_key(sorted(spec.items()), list(weights), np.asarray(x), np.asarray(y), optimizer, epochs, batch_size)
    if key not in _CACHE:
        k = keras()
        model = _text_transformer(**spec)
        with float64_everywhere():
            model.set_weights([_f64(w) for w in weights])
            predictions = model.predict(np.asarray(x, dtype=np.int64), verbose=0)
            name, config = optimizer
            classes = {"sgd": k.optimizers.SGD, "adam": k.optimizers.Adam}
            model.compile(optimizer=classes[name](**config), loss="binary_crossentropy")
            history = model.fit(
                np.asarray(x, dtype=np.int64), _f64(y), epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0
            )
        _CACHE[key] = (predictions, [float(v) for v in history.history["loss"]], model.get_weights())
    predictions, losses, after = _CACHE[key]
    return predictions.copy(), list(losses), [w.copy() for w in after]


def text_transformer_first_batch_gradients(spec: dict, weights, x, y) -> list:
    """The gradient of the binary cross-entropy on ``(x, y)`` for every weight of the Keras model of
    ``spec`` at ``weights``, as fit's first step computes it."""
    model = _text_transformer(**spec)
    with float64_everywhere():
        model.set_weights([_f64(w) for w in weights])
    return first_batch_gradients_of(model, np.asarray(x, dtype=np.int64), _f64(y), "binary_crossentropy")


cache_public_functions(globals())
