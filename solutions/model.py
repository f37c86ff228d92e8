"""Your own Keras: the answer key.

A ``Sequential`` model is a list of layers. Every layer follows one small
protocol (the ``Layer`` class below), which is also what the convolutional
and recurrent layers of tracks 8 and 9 implement, so they plug into the same
``Sequential``:

* ``build(input_shape, rng)`` creates ``self.weights`` (Keras order) from the
  per-sample input shape (no batch dimension);
* ``forward(x, training=False)`` computes the output and remembers what the
  backward pass needs;
* ``backward(dout)`` takes d loss / d output, fills ``self.grads`` (same order
  and shapes as ``self.weights``) and returns d loss / d input;
* ``compute_output_shape(input_shape)`` gives the per-sample output shape.

The optimizer updates ``self.weights`` arrays in place, so a layer must never
rebind them (``set_weights`` copies values into the existing arrays).
"""

from __future__ import annotations

import re
import sys
import time

import numpy as np

from . import losses as losses_module
from . import optimizers as optimizers_module
from .activations import (
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    softmax,
    softmax_backward,
    tanh,
    tanh_backward,
)
from .backprop import dense_backward, glorot_uniform
from .training import accuracy, batch_indices, train_val_split

# ------------------------------------------------------------- activations


def _identity(x):
    return x


def _identity_backward(dout, x):
    return dout


ACTIVATIONS = {
    None: (_identity, _identity_backward),
    "linear": (_identity, _identity_backward),
    "relu": (relu, relu_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
    "tanh": (tanh, tanh_backward),
    "softmax": (softmax, softmax_backward),
}


def get_activation(name):
    """``(forward, backward)`` for an activation name (as Keras spells it)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"Unknown activation: {name!r}. Use one of {sorted(k for k in ACTIVATIONS if k)}") from None


# ------------------------------------------------------------------ naming


def snake_case(class_name):
    """A layer class name as Keras spells its default layer name.

    ``Dense -> dense``, ``Conv2D -> conv2d``, ``MaxPooling2D -> max_pooling2d``,
    ``SimpleRNN -> simple_rnn``, ``LSTM -> lstm`` (the rule of
    ``keras/src/utils/naming.py``).
    """
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


# ------------------------------------------------------------------ layers


class Layer:
    """Base class: weight bookkeeping shared by every layer."""

    def __init__(self, name=None, input_shape=None):
        self.name = name
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.weights: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.built = False

    def build(self, input_shape, rng):
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def __call__(self, x, training=False):
        return self.forward(x, training=training)

    def regularization_loss(self):
        """This layer's penalty on its own weights, added to the loss (Keras's ``layer.losses``).

        0.0 here: a layer without a ``kernel_regularizer`` adds nothing. The
        regularized ``Dense`` and ``Conv2D`` of `regularization` return
        ``l2 * sum(kernel ** 2)``; ``Sequential.losses`` collects them.
        """
        return 0.0

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        if len(weights) != len(self.weights):
            raise ValueError(f"Layer {self.name} expects {len(self.weights)} weights, received {len(weights)}")
        for mine, new in zip(self.weights, weights):
            new = np.asarray(new, dtype=float)
            if mine.shape != new.shape:
                raise ValueError(f"Layer {self.name}: weight shape {mine.shape} does not match received {new.shape}")
            mine[...] = new  # in place: the optimizer's state refers to these arrays


class Input(Layer):
    """Declares the per-sample input shape, like ``keras.Input(shape=...)``; no weights."""

    def __init__(self, shape, name=None):
        super().__init__(name=name, input_shape=shape)

    def forward(self, x, training=False):
        return x

    def backward(self, dout):
        return dout


class Dense(Layer):
    """``activation(x @ kernel + bias)``. Kernel ``(input_dim, units)`` Glorot-uniform, bias zeros.

    Input shape: ``(batch, input_dim)``. Output shape: ``(batch, units)``.
    """

    def __init__(self, units, activation=None, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        if not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(
                f"Received an invalid value for `units`, expected a positive integer. Received: units={units}"
            )
        self.units = int(units)
        self.activation = activation
        self._forward_activation, self._backward_activation = get_activation(activation)

    def build(self, input_shape, rng):
        self.weights = [glorot_uniform((input_shape[-1], self.units), rng), np.zeros(self.units)]
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        kernel, bias = self.weights
        self.inputs = x
        self.z = x @ kernel + bias  # the pre-activation ("logits"): backward and the loss need it
        return self._forward_activation(self.z)

    def backward(self, dout):
        return self.backward_from_logits(self._backward_activation(dout, self.z))

    def backward_from_logits(self, dz):
        """Backward pass from d loss / d z (the pre-activation), skipping the activation.

        ``Sequential`` uses it after a softmax or sigmoid whose loss was computed
        from the logits. Inputs with more axes than ``(batch, input_dim)`` (a
        Dense after a sequence layer) are flattened to rows first: every row is
        one more sample for the kernel.
        """
        kernel = self.weights[0]
        x = self.inputs.reshape(-1, kernel.shape[0])
        dx, dkernel, dbias = dense_backward(dz.reshape(-1, self.units), x, kernel)
        self.grads = [dkernel, dbias]
        return dx.reshape(self.inputs.shape)


# ----------------------------------------------------------------- history


class History:
    """What ``fit`` returns: ``history.history["loss"]`` is a list, one value per epoch."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict = {}

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)


# -------------------------------------------------------------- Sequential

_LOSS_ALIASES = {"mse": "mean_squared_error"}
_FROM_LOGITS = {  # loss -> the final activation whose logits Keras uses instead
    "binary_crossentropy": "sigmoid",
    "categorical_crossentropy": "softmax",
    "sparse_categorical_crossentropy": "softmax",
}


class Sequential:
    """A stack of layers trained like ``keras.Sequential``."""

    def __init__(self, layers=None, seed=None, name="sequential"):
        self.layers: list[Layer] = []
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.built = False
        self.optimizer = None
        self.loss = None
        self.loss_name = None
        self.metrics: list[str] = []
        self.stop_training = False
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        if isinstance(layer, Input) and self.layers:
            raise ValueError("Input must be the first layer")
        self.layers.append(layer)
        self.built = False

    # ---- building

    def _declared_input_shape(self):
        return self.layers[0].input_shape if self.layers else None

    def build(self, input_shape=None):
        """Create every layer's weights for per-sample ``input_shape``."""
        shape = tuple(input_shape) if input_shape is not None else self._declared_input_shape()
        if shape is None:
            raise ValueError(
                "The model has no input shape yet: pass input_shape to the first layer "
                "(or Input(shape=...)), or call build(input_shape), fit or predict first"
            )
        counts: dict[str, int] = {}
        for layer in self.layers:
            if layer.name is None:  # Keras in a fresh session: dense, dense_1, dense_2, ...
                base = snake_case(type(layer).__name__)
                layer.name = base if base not in counts else f"{base}_{counts[base]}"
                counts[base] = counts.get(base, 0) + 1
            if not layer.built:
                layer.build(shape, self.rng)
            layer.output_shape = layer.compute_output_shape(shape)
            shape = layer.output_shape
        self.input_shape = shape
        self.built = True

    def _ensure_built(self, x):
        if not self.built:
            self.build(self._declared_input_shape() or np.asarray(x).shape[1:])

    @property
    def trainable_layers(self):
        return [layer for layer in self.layers if layer.weights]

    @property
    def losses(self):
        """The layers' penalties (Keras's ``model.losses``), one number per layer.

        Keras adds ``sum(model.losses)`` to the loss of every batch, in
        ``fit`` (``loss``) as in ``evaluate`` (and so ``val_loss``). All zeros
        until a layer has a ``kernel_regularizer`` (`regularization`).
        """
        return [layer.regularization_loss() for layer in self.layers]

    # ---- weights

    def count_params(self):
        return int(sum(layer.count_params() for layer in self.layers))

    def get_weights(self):
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Copy ``weights`` (Keras order) into the model's arrays, in place."""
        if not self.built:
            self.build()
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"The model expects {expected} weight arrays, received {len(weights)}")
        for layer in self.layers:
            n = len(layer.weights)
            layer.set_weights(weights[:n])
            weights = weights[n:]

    def save_weights(self, path):
        """Save the weights (Keras order) to an ``.npz`` file."""
        path = str(path)
        if not path.endswith(".npz"):
            raise ValueError(f"save_weights writes .npz files. Received: filepath={path}")
        np.savez(path, *self.get_weights())

    def load_weights(self, path):
        with np.load(str(path)) as data:
            self.set_weights([data[f"arr_{i}"] for i in range(len(data.files))])

    # ---- compile

    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        if isinstance(optimizer, str):
            classes = {"sgd": "SGD", "rmsprop": "RMSprop", "adam": "Adam"}
            try:
                optimizer = getattr(optimizers_module, classes[optimizer.lower()])()
            except KeyError:
                raise ValueError(f"Unknown optimizer: {optimizer!r}. Use 'sgd', 'rmsprop' or 'adam'") from None
        self.optimizer = optimizer
        self.loss = loss
        name = loss if isinstance(loss, str) else getattr(loss, "__name__", None)
        name = _LOSS_ALIASES.get(name, name)
        if name is None or not hasattr(losses_module, name) or not hasattr(losses_module, name + "_grad"):
            raise ValueError(f"Unknown loss: {loss!r}")
        self.loss_name = name
        self._loss = getattr(losses_module, name)
        self._loss_grad = getattr(losses_module, name + "_grad")
        self.metrics = ["accuracy" if m in ("accuracy", "acc") else m for m in (metrics or [])]
        for metric in self.metrics:
            if metric != "accuracy":
                raise ValueError(f"Unknown metric: {metric!r}. Only 'accuracy' is supported")

    # ---- forward and backward

    def forward(self, x, training=False):
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def __call__(self, x, training=False):
        self._ensure_built(x)
        return self.forward(np.asarray(x, dtype=float), training=training)

    def _fused(self):
        """True when the loss is computed from the last layer's logits, as Keras does
        after a softmax (or sigmoid) layer: more accurate, and no clipping."""
        last = self.layers[-1]
        return (
            self.loss_name in _FROM_LOGITS
            and hasattr(last, "backward_from_logits")
            and getattr(last, "activation", None) == _FROM_LOGITS[self.loss_name]
        )

    def _loss_and_output(self, xb, yb, training):
        """The batch's loss as Keras reports it (the data loss plus the layers' penalties), and the output.

        ``training`` is True only in a training step: Dropout drops and
        BatchNormalization uses the batch's statistics then, and not in
        evaluation or prediction.
        """
        out = self.forward(xb, training=training)
        penalty = sum(self.losses)  # after forward, at the weights this batch's step starts from
        if self._fused():
            logits = self.layers[-1].z
            return self._loss(yb, logits, from_logits=True) + penalty, out
        return self._loss(yb, out) + penalty, out

    def _backward(self, xb, yb, out):
        if self._fused():
            dz = self._loss_grad(yb, self.layers[-1].z, from_logits=True)
            dout = self.layers[-1].backward_from_logits(dz)
            layers = self.layers[:-1]
        else:
            dout = self._loss_grad(yb, out)
            layers = self.layers
        for layer in reversed(layers):
            dout = layer.backward(dout)

    def _train_step(self, xb, yb):
        """One step: forward, loss, backward, update. Returns (loss, output)."""
        loss, out = self._loss_and_output(xb, yb, training=True)
        self._backward(xb, yb, out)
        params = [w for layer in self.trainable_layers for w in layer.weights]
        grads = [g for layer in self.trainable_layers for g in layer.grads]
        self.optimizer.apply(params, grads)
        return loss, out

    def train_on_batch(self, x, y):
        """One gradient step on one batch, as ``keras.Model.train_on_batch``.

        Returns the batch's loss (computed before the update), or
        ``[loss, accuracy]`` when metrics were compiled.
        """
        self._check_compiled()
        x, y = np.asarray(x, dtype=float), np.asarray(y)
        self._ensure_built(x)
        loss, out = self._train_step(x, y)
        values = [loss] + [accuracy(y, out) for _ in self.metrics]
        return values[0] if len(values) == 1 else values

    # ---- fit / evaluate / predict

    def _check_compiled(self):
        if self.optimizer is None:
            raise RuntimeError("You must call compile() before fit() or evaluate()")

    def fit(
        self,
        x,
        y,
        epochs=1,
        batch_size=32,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        callbacks=None,
        verbose=1,
    ):
        """Train for ``epochs`` passes over the data; returns a History.

        As Keras: validation is the last ``validation_split`` of the data, cut
        before shuffling; ``loss`` is the mean of the batch losses weighted by
        batch size (the mean over samples), computed while the weights change.
        """
        self._check_compiled()
        x, y, x_val, y_val = self._split(np.asarray(x, dtype=float), np.asarray(y), validation_split, validation_data)
        self._ensure_built(x)
        callbacks = list(callbacks or [])
        history = History()
        history.params = {"epochs": epochs, "steps": -(-len(x) // batch_size), "verbose": verbose}
        self.stop_training = False
        for callback in callbacks:
            callback.set_model(self) if hasattr(callback, "set_model") else setattr(callback, "model", self)
            if hasattr(callback, "on_train_begin"):
                callback.on_train_begin()
        for epoch in range(epochs):
            batches = self._training_batches(len(x), batch_size, shuffle)
            progress = _Progress(epoch, epochs, len(batches), verbose)
            logs = self._run_batches(x, y, batches, self._train_step, progress)
            if x_val is not None:
                val = self._evaluate(x_val, y_val, batch_size)
                logs.update({f"val_{key}": value for key, value in val.items()})
            history.append(epoch, logs)
            progress.finish(logs)
            for callback in callbacks:
                if hasattr(callback, "on_epoch_end"):
                    callback.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for callback in callbacks:
            if hasattr(callback, "on_train_end"):
                callback.on_train_end()
        self.history = history
        return history

    def _split(self, x, y, validation_split, validation_data):
        """``(x, y, x_val, y_val)``: Keras validates on ``validation_data`` if given,
        else on the last ``validation_split`` of the data, cut before any shuffling."""
        if validation_data is not None:
            return x, y, np.asarray(validation_data[0], dtype=float), np.asarray(validation_data[1])
        if validation_split:
            return train_val_split(x, y, validation_split)
        return x, y, None, None

    def _training_batches(self, n, batch_size, shuffle):
        """One epoch's index arrays: a new order every epoch when shuffling; the last batch may be short."""
        return batch_indices(n, batch_size, shuffle, self.rng)

    def _run_batches(self, x, y, batches, step, progress=None):
        """Run ``step(xb, yb) -> (loss, output)`` on each batch; return the mean loss
        (and accuracy) over the samples, i.e. batch values weighted by batch size,
        as Keras's ``Mean`` metrics accumulate them."""
        totals = dict.fromkeys(self._log_keys(), 0.0)
        seen = 0
        for number, index in enumerate(batches, start=1):
            loss, out = step(x[index], y[index])
            seen += len(index)
            totals["loss"] += loss * len(index)
            if "accuracy" in totals:
                totals["accuracy"] += accuracy(y[index], out) * len(index)
            if progress is not None:
                progress.update(number, {key: value / seen for key, value in totals.items()})
        return {key: value / seen for key, value in totals.items()}

    def _log_keys(self):
        return ["loss"] + self.metrics

    def _evaluate(self, x, y, batch_size):
        return self._run_batches(
            x,
            y,
            batch_indices(len(x), batch_size, False, None),
            lambda xb, yb: self._loss_and_output(xb, yb, training=False),
        )

    def evaluate(self, x, y, batch_size=32, verbose=0):
        """The loss (and metrics) on ``x, y``: a number, or ``[loss, metric, ...]`` with metrics."""
        self._check_compiled()
        x, y = np.asarray(x, dtype=float), np.asarray(y)
        self._ensure_built(x)
        results = self._evaluate(x, y, batch_size)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in results.items()))
        values = [results[key] for key in self._log_keys()]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=32, verbose=0):
        x = np.asarray(x, dtype=float)
        self._ensure_built(x)
        outputs = [self.forward(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(outputs, axis=0)

    # ---- summary

    def summary(self, print_fn=print):
        """Print a table like ``keras.Model.summary()``; also returns it as a string."""
        if not self.built:
            self.build()
        rows = [
            (
                f"{layer.name} ({type(layer).__name__})",
                str((None,) + tuple(layer.output_shape)),
                f"{layer.count_params():,}",
            )
            for layer in self.layers
            if not isinstance(layer, Input)
        ]
        total = self.count_params()
        size = _bytes(8 * total)  # float64: 8 bytes a number
        text = "\n".join(
            [
                f'Model: "{self.name}"',
                _table(rows),
                f" Total params: {total:,} ({size})",
                f" Trainable params: {total:,} ({size})",
                " Non-trainable params: 0 (0.00 B)",
            ]
        )
        print_fn(text)
        return text


def _table(rows, header=("Layer (type)", "Output Shape", "Param #")):
    """The box Keras draws around a summary: three columns, the last right-aligned."""
    widths = [
        max(31, *(len(r[0]) for r in rows)),
        max(22, *(len(r[1]) for r in rows)),
        max(13, *(len(r[2]) for r in rows)),
    ]

    def rule(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def cells(row, bar):
        parts = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2])]
        return f"{bar} " + f" {bar} ".join(parts) + f" {bar}"

    lines = [rule("┏", "┳", "┓", "━"), cells(header, "┃"), rule("┡", "╇", "┩", "━")]
    for i, row in enumerate(rows):
        lines.append(cells(row, "│"))
        lines.append(rule("├", "┼", "┤", "─") if i < len(rows) - 1 else rule("└", "┴", "┘", "─"))
    return "\n".join(lines)


def _bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024


class _Progress:
    """Keras's per-epoch progress bar (``keras/src/utils/progbar.py``), one epoch at a time.

    ``verbose=1``: ``Epoch 1/5`` then one line redrawn in place (``\\r``) while
    the batches run, ending as ``38/38 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step -
    accuracy: 0.8125 - loss: 0.4512 - val_accuracy: ... - val_loss: ...``.
    ``verbose=2``: only the final line, without the bar. ``verbose=0``: silent.
    Values above 1e-3 print with 4 decimals, smaller ones in scientific notation.
    """

    WIDTH = 20  # characters of the bar, as Keras
    INTERVAL = 0.05  # seconds between redraws, as Keras

    def __init__(self, epoch, epochs, steps, verbose, stream=None):
        self.steps, self.verbose = steps, verbose
        self.stream = stream or sys.stdout
        self.started = time.perf_counter()
        self.last_drawn = -1.0
        self.width_drawn = 0
        self.colour = hasattr(self.stream, "isatty") and self.stream.isatty()
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}", file=self.stream)

    @staticmethod
    def _number(value):
        return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"

    @staticmethod
    def _per_step(seconds):
        if seconds >= 1 or seconds == 0:
            return f"{seconds:.0f}s/step"
        if seconds >= 1e-3:
            return f"{seconds * 1e3:.0f}ms/step"
        return f"{seconds * 1e6:.0f}us/step"

    def _line(self, step, logs, final):
        elapsed = time.perf_counter() - self.started
        per_step = elapsed / max(step, 1)
        count = f"{step:>{len(str(self.steps))}}/{self.steps}"
        filled = int(self.WIDTH * step / self.steps)
        if self.colour:  # bold count, green done, grey to do: Keras's ANSI codes
            bar = f"\x1b[32m{'━' * filled}\x1b[0m\x1b[37m{'━' * (self.WIDTH - filled)}\x1b[0m"
        else:
            bar = "━" * filled + " " * (self.WIDTH - filled)
        clock = f"{elapsed:.0f}s" if final else f"{per_step * (self.steps - step):.0f}s"  # ETA while running
        metrics = "".join(f" - {key}: {self._number(value)}" for key, value in sorted(logs.items()))
        return f"{count} {bar} {clock} {self._per_step(per_step)}{metrics}"

    def update(self, step, logs):
        now = time.perf_counter()
        if self.verbose != 1 or now - self.last_drawn < self.INTERVAL:
            return
        self.last_drawn = now
        self._draw(self._line(step, logs, final=False), end="")

    def _draw(self, line, end):
        visible = len(re.sub(r"\x1b\[[0-9;]*m", "", line))
        padding = " " * max(self.width_drawn - visible, 0)  # wipe the rest of a longer earlier line
        self.width_drawn = visible
        print("\r" + line + padding, end=end, file=self.stream, flush=True)

    def finish(self, logs):
        if self.verbose == 1:
            self._draw(self._line(self.steps, logs, final=True), end="\n")
        elif self.verbose == 2:
            elapsed = time.perf_counter() - self.started
            metrics = "".join(f" - {key}: {self._number(value)}" for key, value in sorted(logs.items()))
            print(
                f"{self.steps}/{self.steps} - {elapsed:.0f}s - {self._per_step(elapsed / self.steps)}{metrics}",
                file=self.stream,
            )
