"""Your own Keras.

You have every piece already: activations (`activations`), losses (`losses`), the Dense
backward pass and Glorot initialisation (`backprop`), optimizers (`optimizers`), batches and
validation splits (`training`). Now put them together the way Keras does, so that this
works exactly like the seed's Keras code::

    model = Sequential([
        Input(shape=(784,)),
        Dense(128, activation="relu"),
        Dense(64, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=5, batch_size=32, validation_split=0.2)
    model.summary()

The tests build the same model in Keras, give both the same weights, and
compare predictions, losses and whole training histories.

The layer protocol (``Layer`` below; the Conv2D and LSTM layers of tracks 8
and 9 follow it too, and plug into your ``Sequential``):

* ``build(input_shape, rng)`` creates ``self.weights``, a list of float64
  arrays in Keras order (Dense: ``[kernel, bias]``), from the per-sample input
  shape (no batch axis), and sets ``self.built = True``;
* ``forward(x, training=False)`` returns the output for a batch and keeps what
  the backward pass will need;
* ``backward(dout)`` takes d loss / d output, fills ``self.grads`` (same order
  and shapes as ``self.weights``) and returns d loss / d input;
* ``compute_output_shape(input_shape)`` gives the per-sample output shape.

The optimizer changes the arrays in ``self.weights`` in place, so never
rebind them: ``set_weights`` copies values into the existing arrays.

    x ──► [Dense 128 relu] ──► [Dense 64 relu] ──► [Dense 10 softmax] ──► loss
    dx ◄── backward ◄──────── backward ◄────────── backward_from_logits ◄── dloss/dz

Solved for you: the activations table, ``snake_case``, ``Layer``, ``Input``,
``History``, the progress bar and the summary's box. You write ``Dense`` and
``Sequential``, one kata at a time.
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
    """A densely connected layer: ``output = activation(x @ kernel + bias)``.

    Keras stores the kernel as ``(input_dim, units)``: column ``j`` holds the
    weights of unit ``j``. The kernel starts Glorot-uniform (your
    ``glorot_uniform`` from `backprop`), the bias at zeros.

    Input shape: ``(batch, input_dim)``. Output shape: ``(batch, units)``.

    Example:
        >>> layer = Dense(3, activation="relu")
        >>> layer.build((2,), np.random.default_rng(0))
        >>> [w.shape for w in layer.weights]
        [(2, 3), (3,)]
        >>> layer.forward(np.array([[1.0, 2.0]])).shape
        (1, 3)
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
        """Create ``self.weights = [kernel, bias]`` for a per-sample ``input_shape``.

        ``input_shape`` has no batch axis: ``(784,)`` for the seed's first
        layer, so ``input_dim = input_shape[-1]``. Draw the kernel
        ``(input_dim, units)`` from ``rng`` with ``glorot_uniform``, so that a
        seed reproduces the model; the bias is ``np.zeros(units)``. Set
        ``self.built = True``.
        """
        # TODO: kata model.dense_layer
        raise NotImplementedError("kata model.dense_layer: Dense.build")

    def compute_output_shape(self, input_shape):
        """Per-sample output shape: the last axis becomes ``units``.

        Example: ``Dense(128).compute_output_shape((784,)) == (128,)``.
        """
        # TODO: kata model.dense_layer
        raise NotImplementedError("kata model.dense_layer: Dense.compute_output_shape")

    def forward(self, x, training=False):
        """``activation(x @ kernel + bias)``, for a batch ``x`` of shape ``(batch, input_dim)``.

        Keep what backward needs: the input ``x`` (call it ``self.inputs``)
        and the pre-activation ``z = x @ kernel + bias`` (``self.z``, the
        "logits"). ``self._forward_activation`` is the activation's function.
        """
        # TODO: kata model.dense_layer
        raise NotImplementedError("kata model.dense_layer: Dense.forward")

    def backward(self, dout):
        """d loss / d x from ``dout`` = d loss / d output; fills ``self.grads``.

        Undo forward in reverse: first the activation
        (``dz = self._backward_activation(dout, self.z)``: an activation's
        backward takes the activation's *input*), then the affine part, which
        ``backward_from_logits(dz)`` does.
        """
        # TODO: kata model.dense_layer_backward
        raise NotImplementedError("kata model.dense_layer_backward: Dense.backward")

    def backward_from_logits(self, dz):
        """The backward pass from ``dz`` = d loss / d z, skipping the activation.

        Your track-4 ``dense_backward(dz, x, kernel)`` gives ``(dx, dkernel,
        dbias)``. Set ``self.grads = [dkernel, dbias]`` (the order of
        ``self.weights``) and return ``dx``. ``Sequential.fit`` calls this
        directly on a softmax (or sigmoid) output layer when the loss comes
        from the logits: the softmax and the cross-entropy together have the
        simple gradient ``(softmax(z) - one_hot) / batch``.
        """
        # TODO: kata model.dense_layer_backward
        raise NotImplementedError("kata model.dense_layer_backward: Dense.backward_from_logits")


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
    """A stack of layers trained like ``keras.Sequential``.

    Solved for you: the constructor, ``add``, ``_ensure_built`` (build from
    the declared input shape or from the first batch seen), ``__call__``,
    ``trainable_layers``, ``_check_compiled`` and ``_log_keys``. Write the
    rest, kata by kata. Helpers of your own (a method computing one batch's
    loss, a backward pass over all layers, ...) are welcome.
    """

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

    def _declared_input_shape(self):
        return self.layers[0].input_shape if self.layers else None

    def build(self, input_shape=None):
        """Build every layer, in order, for the per-sample ``input_shape``.

        ``input_shape`` defaults to the declared one (``Input(shape=...)`` or
        the first layer's ``input_shape=``). Walk the layers: give a layer
        without a name Keras's default (``snake_case`` of its class name, then
        ``_1``, ``_2``, ... for the next ones of the same kind: ``dense``,
        ``dense_1``, ``dense_2``; a name the user gave is kept); build it on
        the current shape with ``self.rng`` unless it is built already; store
        ``layer.output_shape = layer.compute_output_shape(shape)`` and carry
        that shape on to the next layer. Set ``self.built = True``.

        Raise ``ValueError`` if no shape is known at all.
        """
        # TODO: kata model.sequential_predict
        raise NotImplementedError("kata model.sequential_predict: Sequential.build")

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

    def forward(self, x, training=False):
        """Pass ``x`` through every layer in order and return the last output."""
        # TODO: kata model.sequential_predict
        raise NotImplementedError("kata model.sequential_predict: Sequential.forward")

    def __call__(self, x, training=False):
        self._ensure_built(x)
        return self.forward(np.asarray(x, dtype=float), training=training)

    def predict(self, x, batch_size=32, verbose=0):
        """The model's output for ``x``, computed ``batch_size`` samples at a time.

        Make sure the model is built (``self._ensure_built(x)``), run the
        batches through ``forward`` and stack the results
        (``np.concatenate(..., axis=0)``). 70 samples in batches of 32 are
        batches of 32, 32 and 6: keep the last one.
        """
        # TODO: kata model.sequential_predict
        raise NotImplementedError("kata model.sequential_predict: Sequential.predict")

    def count_params(self):
        """How many numbers the model learns: every kernel and every bias.

        The seed's MLP: 784*128 + 128 + 128*64 + 64 + 64*10 + 10 = 109,386.
        """
        # TODO: kata model.sequential_weights
        raise NotImplementedError("kata model.sequential_weights: Sequential.count_params")

    def get_weights(self):
        """Copies of all weights in Keras order: layer by layer, each layer's
        ``weights`` in order (``[kernel_1, bias_1, kernel_2, bias_2, ...]``)."""
        # TODO: kata model.sequential_weights
        raise NotImplementedError("kata model.sequential_weights: Sequential.get_weights")

    def set_weights(self, weights):
        """Load ``weights`` (Keras order, e.g. ``keras_model.get_weights()``) into the model.

        Build the model first if needed. Check the number of arrays
        (``ValueError`` otherwise), then hand each layer its next
        ``len(layer.weights)`` arrays; ``Layer.set_weights`` checks shapes and
        copies the values into the existing arrays.
        """
        # TODO: kata model.sequential_weights
        raise NotImplementedError("kata model.sequential_weights: Sequential.set_weights")

    def save_weights(self, path):
        """Save ``get_weights()`` to an ``.npz`` file, in order.

        Raise ``ValueError`` unless ``path`` ends with ``.npz`` (NumPy would
        quietly append the suffix and the file would not be where asked).
        ``np.savez(path, *arrays)`` stores them as ``arr_0``, ``arr_1``, ...
        """
        # TODO: kata model.sequential_save_load
        raise NotImplementedError("kata model.sequential_save_load: Sequential.save_weights")

    def load_weights(self, path):
        """Read weights written by ``save_weights`` back into the model, in order."""
        # TODO: kata model.sequential_save_load
        raise NotImplementedError("kata model.sequential_save_load: Sequential.load_weights")

    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer, the loss and the metrics, as ``keras.Model.compile``.

        Args:
            optimizer: a name (``"adam"``, ``"sgd"``, ``"rmsprop"``, any case)
                for your optimizer with its defaults, or an optimizer object,
                kept as it is. Store it as ``self.optimizer``.
            loss: a name from your ``losses`` module
                (``"sparse_categorical_crossentropy"``, ``"mse"`` for
                ``"mean_squared_error"``, ...) or one of its functions; you
                will need the function and its ``*_grad`` twin. Keep what was
                passed as ``self.loss``.
            metrics: ``None``, ``[]`` or ``["accuracy"]`` (``"acc"`` too).

        Raises ``ValueError`` quoting an unknown optimizer, loss or metric.
        """
        # TODO: kata model.sequential_compile
        raise NotImplementedError("kata model.sequential_compile: Sequential.compile")

    def _check_compiled(self):
        if self.optimizer is None:
            raise RuntimeError("You must call compile() before fit() or evaluate()")

    def _log_keys(self):
        return ["loss"] + self.metrics

    def evaluate(self, x, y, batch_size=32, verbose=0):
        """The loss on ``x, y`` (and the metrics), as ``keras.Model.evaluate`` reports them.

        Returns the loss as one number, or ``[loss, accuracy]`` when compiled
        with ``metrics=["accuracy"]``.

        Two things Keras does that you must do too:

        * The loss over the data is the mean over *samples*: each batch's loss
          weighted by its size. Batches of 32, 32 and 6 are not equal.
        * After a Dense layer with ``softmax`` (or ``sigmoid``), a categorical
          (or binary) cross-entropy is computed from that layer's logits ``z``
          with ``from_logits=True``. From the probabilities, a probability
          below 1e-7 would be clipped and the loss capped at -log(1e-7) = 16.1.
          ``_FROM_LOGITS`` says which activation goes with which loss.
        * The layers' penalties join every batch's loss: add ``sum(self.losses)``
          (zero until a layer has a ``kernel_regularizer``; `regularization`
          gives them one, and your evaluate then needs no change).

        Forward with ``training=False`` here: Dropout keeps every unit and
        BatchNormalization uses its moving statistics when not training.

        Accuracy: your ``accuracy(y_true, y_pred)`` from `training`, weighted the same way.
        """
        # TODO: kata model.sequential_evaluate
        raise NotImplementedError("kata model.sequential_evaluate: Sequential.evaluate")

    def train_on_batch(self, x, y):
        """One gradient step on one batch, as ``keras.Model.train_on_batch``.

        Forward (``training=True``), the loss, backward through every layer in
        reverse order, then ``self.optimizer.apply(params, grads)`` with every
        layer's ``weights`` and ``grads`` in the same order. Returns the loss
        computed *before* the step, or ``[loss, accuracy]`` with metrics.

        The gradient that starts backward: your loss's ``*_grad``. After a
        softmax/sigmoid Dense with cross-entropy, take it with respect to the
        logits (``from_logits=True``) and start at that layer's
        ``backward_from_logits``, as Keras differentiates the loss it computed.

        The loss reported includes ``sum(self.losses)``, the layers' penalties,
        as in ``evaluate`` (each layer adds its penalty's gradient to its own
        grads in backward, so the step needs nothing more). And forward with
        ``training=True``: the one place where Dropout drops units.
        """
        # TODO: kata model.sequential_fit
        raise NotImplementedError("kata model.sequential_fit: Sequential.train_on_batch")

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
        """Train for ``epochs`` passes over the data; return a ``History``.

        As ``keras.Model.fit``:

        * ``validation_split=0.2`` keeps the LAST 20% of ``x, y`` for
          validation (your ``train_val_split``), cut before any shuffling;
          ``validation_data=(x_val, y_val)`` gives it directly instead.
        * Every epoch: new batches (``batch_indices(n, batch_size, shuffle,
          self.rng)``; the last batch may be smaller: keep it), one training
          step each. The epoch's ``loss`` (and ``accuracy``) is the mean of
          the batch values weighted by batch size, each computed while the
          weights change. Then ``val_loss`` (``val_accuracy``) on the
          validation data, as ``evaluate`` computes them.
        * ``history.append(epoch, logs)`` with those keys, so that
          ``history.history["val_loss"]`` is a list with one value per epoch.
        * ``verbose=1``: Keras's progress bar. Make ``_Progress(epoch, epochs,
          steps, verbose)`` at the start of each epoch, call
          ``.update(step, logs_so_far)`` after each batch and
          ``.finish(logs)`` at the end of the epoch. ``verbose=0``: silent.
        * ``callbacks`` (like your ``EarlyStopping``): ``set_model(self)`` and
          ``on_train_begin()`` first, ``on_epoch_end(epoch, logs)`` after each
          epoch, ``on_train_end()`` at the end. Stop after the epoch in which
          one sets ``self.stop_training = True``.
        """
        # TODO: kata model.sequential_fit
        raise NotImplementedError("kata model.sequential_fit: Sequential.fit")

    def summary(self, print_fn=print):
        """Print a table like ``keras.Model.summary()``, for example::

            Model: "sequential"
            ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
            ┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
            ┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
            │ dense (Dense)                   │ (None, 128)            │       100,480 │
            ├─────────────────────────────────┼────────────────────────┼───────────────┤
            ...
             Total params: 109,386 (854.58 KB)
             Trainable params: 109,386 (854.58 KB)
             Non-trainable params: 0 (0.00 B)

        ``_table(rows)`` draws the box from rows of three strings (name and
        type, output shape with ``None`` for the batch, the count with a
        thousands separator: ``f"{n:,}"``); ``_bytes(8 * n)`` gives the size
        of ``n`` float64 numbers. ``Input`` gets no row. Return the text too.
        """
        # TODO: kata model.sequential_summary
        raise NotImplementedError("kata model.sequential_summary: Sequential.summary")


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
