"""Reference answers for the `optimizers` track: the real ``keras.optimizers`` applying the
same gradients to float64 ``tf.Variable``s, step by step.

Two float32 details of Keras 3 make it differ slightly from an exact float64
implementation (the kata tests' tolerances allow for both):

* the learning rate lives in a float32 variable (``backend.floatx()``), so
  ``0.001`` is ``0.0010000000474974513``: ~5e-8 relative on every step;
* Adam casts ``beta_1`` and ``beta_2`` to the variable's dtype through float32,
  so its bias-correction powers use ``0.9990000128746033`` for ``0.999``:
  ~7e-6 relative on the step size.
"""

from __future__ import annotations

import numpy as np

from dojo.refcache import cache_public_functions

from ._engine import constant, keras, tf


def run(name: str, config: dict, params, grad_steps) -> list[list[np.ndarray]]:
    """Apply ``grad_steps`` (a list of gradient lists) with ``keras.optimizers.<name>(**config)``.

    Returns the parameters after every step: ``result[step][i]`` is param ``i``
    after ``step + 1`` updates.
    """
    optimizer = getattr(keras().optimizers, name)(
        **{k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in config.items()}
    )
    variables = [tf().Variable(np.asarray(p, dtype=np.float64), dtype="float64") for p in params]
    history = []
    for grads in grad_steps:
        optimizer.apply([constant(g) for g in grads], variables)
        history.append([v.numpy().copy() for v in variables])
    return history


cache_public_functions(globals())
