"""Import TensorFlow and Keras once, quietly, configured for float64 reference work."""

from __future__ import annotations

import contextlib
import os
import sys
from functools import lru_cache


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the C++ logging that TensorFlow prints to file descriptor 2 while it loads."""
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (some IDE consoles): nothing to silence
        yield
        return
    sys.stderr.flush()
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@lru_cache(maxsize=1)
def tf():
    """The ``tensorflow`` module, imported on first use with its logs silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # oneDNN reorders floating-point sums; turning it off keeps float64 results
    # reproducible from run to run (and silences its banner).
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with _quiet_stderr():
        import tensorflow

        tensorflow.get_logger().setLevel("ERROR")
        try:
            import absl.logging

            absl.logging.set_verbosity(absl.logging.ERROR)
        except ImportError:
            pass
    return tensorflow


@lru_cache(maxsize=1)
def keras():
    """The ``keras`` module (Keras 3 on the TensorFlow backend)."""
    tf()
    import keras as keras_module

    return keras_module


def constant(value, dtype="float64"):
    """A float64 (by default) TensorFlow constant from NumPy or a list."""
    return tf().constant(value, dtype=dtype)


def gradient(function, *inputs, upstream=None):
    """Gradients of ``sum(function(*inputs) * upstream)`` w.r.t. each input, as NumPy.

    ``upstream`` is the gradient flowing in from above (``dout``); ``None``
    means ones, i.e. the gradient of the sum of the outputs.
    """
    t = tf()
    variables = [t.Variable(x, dtype="float64") for x in inputs]
    with t.GradientTape() as tape:
        out = function(*variables)
        seed = t.ones_like(out) if upstream is None else t.constant(upstream, dtype=out.dtype)
        target = t.reduce_sum(out * seed)
    grads = tape.gradient(target, variables)
    return [None if g is None else g.numpy() for g in grads]
