"""Wrong and right ways to write katas/model.py.

Each variant subclasses the answer key's class and changes only the method
where the mistake lives; the docstring says what the learner's code looks like.
The self-test splices a variant's source into a copy of solutions/model.py, so
its base class and the names in its methods are that module's; the import
below only lets this file define the classes.
"""

import numpy as np
from mutation import alternative, mutant

from solutions.model import Dense, Sequential

# ------------------------------------------------------------------ model.dense_layer


@mutant("model.dense_layer", expect="transposed")
class DenseWithTransposedKernel(Dense):
    """kernel = glorot_uniform((units, input_dim), rng), as in the maths books' W x."""

    def build(self, input_shape, rng):
        self.weights = [glorot_uniform((self.units, input_shape[-1]), rng), np.zeros(self.units)]
        self.built = True


@mutant("model.dense_layer", expect="activation was not applied")
class DenseWithoutActivation(Dense):
    def forward(self, x, training=False):
        kernel, bias = self.weights
        self.inputs, self.z = x, x @ kernel + bias
        return self.z


@mutant("model.dense_layer", expect="draw the kernel from `rng`")
class DenseWithGlobalRandom(Dense):
    """np.random.uniform(...) instead of the rng it was given."""

    def build(self, input_shape, rng):
        limit = np.sqrt(6.0 / (input_shape[-1] + self.units))
        self.weights = [np.random.uniform(-limit, limit, size=(input_shape[-1], self.units)), np.zeros(self.units)]
        self.built = True


@alternative("model.dense_layer")
class DenseWithEinsum(Dense):
    def build(self, input_shape, rng):
        fan_in, fan_out = input_shape[-1], self.units
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        self.weights = [rng.uniform(-limit, limit, size=(fan_in, fan_out)), np.zeros(fan_out)]
        self.built = True

    def forward(self, x, training=False):
        self.inputs = x
        self.z = np.einsum("bi,iu->bu", x, self.weights[0]) + self.weights[1]
        return self._forward_activation(self.z)


# --------------------------------------------------------- model.dense_layer_backward


@mutant("model.dense_layer_backward", expect="derivative is missing")
class DenseBackwardWithoutActivationDerivative(Dense):
    def backward(self, dout):
        return self.backward_from_logits(dout)


@mutant("model.dense_layer_backward", expect=r"\[dbias, dkernel\]")
class DenseBackwardGradsSwapped(Dense):
    def backward_from_logits(self, dz):
        dx, dkernel, dbias = dense_backward(dz, self.inputs, self.weights[0])
        self.grads = [dbias, dkernel]
        return dx


@mutant("model.dense_layer_backward", expect="sum dz over the batch")
class DenseBackwardAveragingTheBias(Dense):
    def backward_from_logits(self, dz):
        dx, dkernel, _ = dense_backward(dz, self.inputs, self.weights[0])
        self.grads = [dkernel, dz.mean(axis=0)]
        return dx


@mutant("model.dense_layer_backward", expect="older forward call")
class DenseBackwardRemembersOnlyTheFirstInput(Dense):
    def forward(self, x, training=False):
        if getattr(self, "inputs", None) is None:
            self.inputs = x
        self.z = self.inputs @ self.weights[0] + self.weights[1]
        out = x @ self.weights[0] + self.weights[1]
        return self._forward_activation(out)


@alternative("model.dense_layer_backward")
class DenseBackwardWithEinsum(Dense):
    def backward(self, dout):
        dz = self._backward_activation(dout, self.z)
        self.grads = [np.einsum("bi,bu->iu", self.inputs, dz), np.einsum("bu->u", dz)]
        return np.einsum("bu,iu->bi", dz, self.weights[0])


# --------------------------------------------------------- model.sequential_predict


@mutant("model.sequential_predict", expect="only the first batch")
class SequentialPredictingOneBatch(Sequential):
    def predict(self, x, batch_size=32, verbose=0):
        x = np.asarray(x, dtype=float)
        self._ensure_built(x)
        return self.forward(x[:batch_size])


@mutant("model.sequential_predict", expect="Keras names them")
class SequentialNamingFromOne(Sequential):
    """f"{name}_{i}" for every layer: dense_1, dense_2, dense_3."""

    def build(self, input_shape=None):
        for i, layer in enumerate(self.layers):
            if layer.name is None:
                layer.name = f"{snake_case(type(layer).__name__)}_{i}"
        super().build(input_shape)


@alternative("model.sequential_predict")
class SequentialPredictingWithAWhileLoop(Sequential):
    def predict(self, x, batch_size=32, verbose=0):
        x = np.asarray(x, dtype=float)
        self._ensure_built(x)
        outputs, start = [], 0
        while start < len(x):
            outputs.append(self.forward(x[start : start + batch_size]))
            start += batch_size
        return np.vstack(outputs)


# ---------------------------------------------------------------- model.sequential_weights


@mutant("model.sequential_weights", expect="biases .*missing")
class SequentialCountingKernelsOnly(Sequential):
    def count_params(self):
        return sum(layer.weights[0].size for layer in self.layers if layer.weights)


@mutant("model.sequential_weights", expect="kernel, then bias")
class SequentialGettingBiasFirst(Sequential):
    def get_weights(self):
        return [w.copy() for layer in self.layers for w in reversed(layer.weights)]


@mutant("model.sequential_weights", expect="replaced the layers' arrays")
class SequentialRebindingWeights(Sequential):
    """layer.weights = weights[i:i + 2]: the layer now holds the caller's arrays."""

    def set_weights(self, weights):
        if not self.built:
            self.build()
        weights = list(weights)
        if len(weights) != sum(len(layer.weights) for layer in self.layers):
            raise ValueError("wrong number of weights")
        for layer in self.layers:
            n = len(layer.weights)
            layer.weights, weights = weights[:n], weights[n:]


@alternative("model.sequential_weights")
class SequentialWeightsWithIndexes(Sequential):
    def count_params(self):
        total = 0
        for layer in self.layers:
            for w in layer.weights:
                total += int(np.prod(w.shape))
        return total

    def set_weights(self, weights):
        if not self.built:
            self.build()
        slots = [w for layer in self.layers for w in layer.weights]
        if len(weights) != len(slots):
            raise ValueError(f"expected {len(slots)} arrays, received {len(weights)}")
        for i, slot in enumerate(slots):
            if np.shape(weights[i]) != slot.shape:
                raise ValueError(f"array {i}: shape {np.shape(weights[i])}, expected {slot.shape}")
            np.copyto(slot, weights[i])


# ---------------------------------------------------------------- model.sequential_compile


@mutant("model.sequential_compile", expect="that very object")
class SequentialAlwaysMakingAdam(Sequential):
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        super().compile("adam" if not isinstance(optimizer, str) else optimizer, loss, metrics)


@mutant("model.sequential_compile", expect="accepted an unknown metric")
class SequentialIgnoringMetrics(Sequential):
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        super().compile(optimizer, loss, [m for m in (metrics or []) if m in ("accuracy", "acc")])


@alternative("model.sequential_compile")
class SequentialCompilingWithADict(Sequential):
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        makers = {
            "adam": optimizers_module.Adam,
            "sgd": optimizers_module.SGD,
            "rmsprop": optimizers_module.RMSprop,
        }
        if isinstance(optimizer, str):
            if optimizer.lower() not in makers:
                raise ValueError(f"Unknown optimizer: {optimizer}")
            optimizer = makers[optimizer.lower()]()
        unknown = [m for m in (metrics or []) if m not in ("accuracy", "acc")]
        if unknown:
            raise ValueError(f"Unknown metric: {unknown[0]}")
        super().compile(optimizer, loss, metrics)


# --------------------------------------------------------------- model.sequential_evaluate


@mutant("model.sequential_evaluate", expect="weight each by its batch size")
class SequentialAveragingBatchesEqually(Sequential):
    """np.mean(batch_losses): a batch of 6 counts as much as a batch of 32."""

    def _run_batches(self, x, y, batches, step, progress=None):
        values = {key: [] for key in self._log_keys()}
        for index in batches:
            loss, out = step(x[index], y[index])
            values["loss"].append(loss)
            if "accuracy" in values:
                values["accuracy"].append(accuracy(y[index], out))
        return {key: float(np.mean(v)) for key, v in values.items()}


@mutant("model.sequential_evaluate", expect="from the logits")
class SequentialLossFromProbabilities(Sequential):
    """loss(y, model.forward(x)): the clipped probabilities, never the logits."""

    def _fused(self):
        return False


@mutant("model.sequential_evaluate", expect=r"add sum\(self.losses\)")
class SequentialWithoutPenalties(Sequential):
    """The data loss alone: the layers' regularization_loss() never reaches the loss."""

    def _loss_and_output(self, xb, yb, training):
        loss, out = super()._loss_and_output(xb, yb, training)
        return loss - sum(self.losses), out


@alternative("model.sequential_evaluate")
class SequentialEvaluatingSampleBySample(Sequential):
    """A loop over samples: the mean over samples is what Keras reports."""

    def _evaluate(self, x, y, batch_size):
        losses, hits = [], []
        for i in range(len(x)):
            loss, out = self._loss_and_output(x[i : i + 1], y[i : i + 1], training=False)
            losses.append(loss)
            hits.append(accuracy(y[i : i + 1], out))
        results = {"loss": float(np.mean(losses))}
        if "accuracy" in self.metrics:
            results["accuracy"] = float(np.mean(hits))
        return results


# -------------------------------------------------------------------- model.sequential_fit


@mutant("model.sequential_fit", expect="accuracy was measured after the update")
class SequentialReportingTheAccuracyAfterTheStep(Sequential):
    """train_on_batch: step first, then `self.evaluate(x, y)` for the numbers it returns."""

    def train_on_batch(self, x, y):
        loss = super().train_on_batch(x, y)
        if not self.metrics:
            return loss
        probabilities = self.predict(x)  # MISTAKE: the weights have moved already
        return [loss[0]] + [accuracy(np.asarray(y), probabilities) for _ in self.metrics]


@mutant("model.sequential_fit", expect="batch .*dropped")
class SequentialDroppingTheLastBatch(Sequential):
    """for step in range(len(x) // batch_size): the last, smaller batch never trains."""

    def _training_batches(self, n, batch_size, shuffle):
        return [b for b in super()._training_batches(n, batch_size, shuffle) if len(b) == batch_size]


@mutant("model.sequential_fit", expect="from the front")
class SequentialValidatingOnTheFront(Sequential):
    def _split(self, x, y, validation_split, validation_data):
        if validation_split and validation_data is None:
            n_val = len(x) - int(len(x) * (1.0 - validation_split))
            return x[n_val:], y[n_val:], x[:n_val], y[:n_val]
        return super()._split(x, y, validation_split, validation_data)


@mutant("model.sequential_fit", expect="not weighted by its size")
class SequentialFitAveragingBatchesEqually(Sequential):
    """The epoch's loss as np.mean(batch_losses); evaluate is right."""

    def _run_batches(self, x, y, batches, step, progress=None):
        if progress is None:
            return super()._run_batches(x, y, batches, step, progress)
        values = {key: [] for key in self._log_keys()}
        for index in batches:
            loss, out = step(x[index], y[index])
            values["loss"].append(loss)
            if "accuracy" in values:
                values["accuracy"].append(accuracy(y[index], out))
        return {key: float(np.mean(v)) for key, v in values.items()}


@mutant("model.sequential_fit", expect="saturates")
class SequentialGradientThroughClippedProbabilities(Sequential):
    """The loss from the logits, but backward from d loss / d probabilities (clipped at 1e-7)."""

    def _backward(self, xb, yb, out):
        dout = self._loss_grad(yb, out)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)


@mutant("model.sequential_fit", expect="as given, cut before any shuffling")
class SequentialShufflingBeforeTheSplit(Sequential):
    def fit(self, x, y, *args, shuffle=True, **kwargs):
        if shuffle:
            order = self.rng.permutation(len(x))
            x, y = np.asarray(x)[order], np.asarray(y)[order]
        return super().fit(x, y, *args, shuffle=shuffle, **kwargs)


@mutant("model.sequential_fit", expect="shuffle the batches every epoch")
class SequentialNeverShuffling(Sequential):
    def _training_batches(self, n, batch_size, shuffle):
        return super()._training_batches(n, batch_size, False)


@mutant("model.sequential_fit", expect="Keras calls set_model, on_train_begin")
class SequentialForgettingCallbacks(Sequential):
    """fit(..., callbacks=None) accepted, then never used."""

    def fit(self, *args, **kwargs):
        return super().fit(*args, **{**kwargs, "callbacks": None})


@mutant("model.sequential_fit", expect="draw a new permutation every epoch")
class SequentialShufflingOnce(Sequential):
    """order = rng.permutation(n) once, before the epoch loop: every epoch the same batches."""

    def _training_batches(self, n, batch_size, shuffle):
        if not hasattr(self, "_order"):
            self._order = self.rng.permutation(n) if shuffle else np.arange(n)
        return [self._order[i : i + batch_size] for i in range(0, n, batch_size)]


@mutant("model.sequential_fit", expect="Keras ignores validation_split")
class SequentialSplittingDespiteValidationData(Sequential):
    def _split(self, x, y, validation_split, validation_data):
        if validation_split:  # MISTAKE: the split first; validation_data only when there is none
            return train_val_split(x, y, validation_split)
        return super()._split(x, y, validation_split, validation_data)


@mutant("model.sequential_fit", expect="returns a new History")
class SequentialReusingOneHistory(Sequential):
    """self.history = History() in __init__, appended to by every fit."""

    def fit(self, *args, **kwargs):
        previous = getattr(self, "_kept", None)
        history = super().fit(*args, **kwargs)
        if previous is not None:
            for key, values in history.history.items():
                previous.history.setdefault(key, []).extend(values)
            previous.epoch.extend(history.epoch)
            history = previous
        self._kept = self.history = history
        return history


@mutant("model.sequential_fit", expect="stop_training = False at the start of every fit")
class SequentialKeepingStopTraining(Sequential):
    """stop_training set once in __init__ and never reset."""

    def fit(self, *args, **kwargs):
        stopped = getattr(self, "stop_training", False)
        callbacks = list(kwargs.pop("callbacks", None) or [])
        if stopped:

            class StopAtOnce:
                def set_model(self, model):
                    self.model = model

                def on_epoch_end(self, epoch, logs=None):
                    self.model.stop_training = True

            callbacks.append(StopAtOnce())
        return super().fit(*args, callbacks=callbacks, **kwargs)


@mutant(
    "regularization.overfitting",
    expect=r"the regularised run went on for all 60 epochs.*fit ends when it is set",
    module="model",
    target="Sequential",
)
class SequentialNeverLookingAtStopTraining(Sequential):
    """fit runs every epoch it was asked for: setting stop_training has no effect."""

    @property
    def stop_training(self):
        return False

    @stop_training.setter
    def stop_training(self, value):
        pass


@mutant("model.sequential_fit", expect="penalties are missing")
class SequentialPenalisingOnlyInEvaluate(Sequential):
    """evaluate adds sum(self.losses); the training step reports the data loss alone."""

    def _train_step(self, xb, yb):
        loss, out = super()._train_step(xb, yb)
        return loss - sum(self.losses), out


@mutant("model.sequential_fit", expect="training=True|trained on 0 batches")
class SequentialTrainingInInferenceMode(Sequential):
    """self.forward(xb) in the training step: training keeps its default, False."""

    def _train_step(self, xb, yb):
        loss, out = self._loss_and_output(xb, yb, training=False)
        self._backward(xb, yb, out)
        params = [w for layer in self.trainable_layers for w in layer.weights]
        grads = [g for layer in self.trainable_layers for g in layer.grads]
        self.optimizer.apply(params, grads)
        return loss, out


@alternative("model.sequential_fit")
class SequentialFitWithNpAverage(Sequential):
    """Batch values collected in lists, then np.average(..., weights=sizes)."""

    def _run_batches(self, x, y, batches, step, progress=None):
        losses, hits, sizes = [], [], []
        for number, index in enumerate(batches, start=1):
            loss, out = step(x[index], y[index])
            losses.append(loss)
            hits.append(accuracy(y[index], out))
            sizes.append(len(index))
            logs = {"loss": np.average(losses, weights=sizes)}
            if "accuracy" in self.metrics:
                logs["accuracy"] = np.average(hits, weights=sizes)
            if progress is not None:
                progress.update(number, logs)
        return {key: float(value) for key, value in logs.items()}


# ---------------------------------------------------------------- model.sequential_summary


@mutant("model.sequential_summary", expect="biases are missing")
class SequentialSummaryWithoutBiases(Sequential):
    def summary(self, print_fn=print):
        rows = [
            (
                f"{layer.name} ({type(layer).__name__})",
                str((None,) + tuple(layer.output_shape)),
                f"{layer.weights[0].size:,}",
            )
            for layer in self.layers
            if layer.weights
        ]
        total = sum(layer.weights[0].size for layer in self.layers if layer.weights)
        print_fn(f'Model: "{self.name}"\n{_table(rows)}\n Total params: {total:,}')


@mutant("model.sequential_summary", expect="thousands separator")
class SequentialSummaryWithoutSeparators(Sequential):
    def summary(self, print_fn=print):
        rows = [
            (
                f"{layer.name} ({type(layer).__name__})",
                str((None,) + tuple(layer.output_shape)),
                str(layer.count_params()),
            )
            for layer in self.layers
            if layer.weights
        ]
        print_fn(f'Model: "{self.name}"\n{_table(rows)}\n Total params: {self.count_params()}')


@alternative("model.sequential_summary")
class SequentialPlainTextSummary(Sequential):
    """No box drawing: the same facts in plain columns."""

    def summary(self, print_fn=print):
        lines = [f"Model: {self.name}", f"{'Layer (type)':<32}{'Output Shape':<24}{'Param #':>12}"]
        for layer in self.layers:
            if isinstance(layer, Input):
                continue
            lines.append(
                f"{layer.name + ' (' + type(layer).__name__ + ')':<32}"
                f"{str((None,) + tuple(layer.output_shape)):<24}{layer.count_params():>12,}"
            )
        lines.append(f"Total params: {self.count_params():,}")
        print_fn("\n".join(lines))


# ------------------------------------------------------------ model.sequential_save_load


@mutant("model.sequential_save_load", expect="order was lost")
class SequentialLoadingInSortedOrder(Sequential):
    def load_weights(self, path):
        with np.load(str(path)) as data:
            self.set_weights([data[name] for name in sorted(data.files)])


@mutant("model.sequential_save_load", expect="npz")
class SequentialSavingAnySuffix(Sequential):
    def save_weights(self, path):
        np.savez(str(path), *self.get_weights())


@alternative("model.sequential_save_load")
class SequentialSavingNamedArrays(Sequential):
    """Arrays saved under zero-padded names, so that sorting them is safe."""

    def save_weights(self, path):
        if not str(path).endswith(".npz"):
            raise ValueError(f"expected a .npz path, received {path}")
        np.savez(str(path), **{f"weight_{i:04d}": w for i, w in enumerate(self.get_weights())})

    def load_weights(self, path):
        with np.load(str(path)) as data:
            self.set_weights([data[name] for name in sorted(data.files)])


# -------------------------------------------------------------- model.seed_mlp


@mutant("model.seed_mlp", expect="the last, smaller batch")
class SeedMlpDroppingTheLastBatch(Sequential):
    """240 training digits are 7 batches of 32 and one of 16; this fit skips the 16."""

    def _training_batches(self, n, batch_size, shuffle):
        return [b for b in super()._training_batches(n, batch_size, shuffle) if len(b) == batch_size]


@mutant("model.seed_mlp", expect="LAST fraction of the data")
class SeedMlpValidatingOnTheFront(Sequential):
    def _split(self, x, y, validation_split, validation_data):
        if validation_split and validation_data is None:
            n_val = len(x) - int(len(x) * (1.0 - validation_split))
            return x[n_val:], y[n_val:], x[:n_val], y[:n_val]
        return super()._split(x, y, validation_split, validation_data)


@alternative("model.seed_mlp")
class SeedMlpWithRunningMeans(Sequential):
    """Running means updated batch by batch (mean += (value - mean) * size / seen)."""

    def _run_batches(self, x, y, batches, step, progress=None):
        means = dict.fromkeys(self._log_keys(), 0.0)
        seen = 0
        for number, index in enumerate(batches, start=1):
            loss, out = step(x[index], y[index])
            seen += len(index)
            means["loss"] += (loss - means["loss"]) * len(index) / seen
            if "accuracy" in means:
                means["accuracy"] += (accuracy(y[index], out) - means["accuracy"]) * len(index) / seen
            if progress is not None:
                progress.update(number, dict(means))
        return means


# ---- blind sweep (issue 24, round 3): written from the answer key, before reading the kata's tests


@mutant("model.sequential_fit", expect=r"with metrics=\['accuracy'\] Keras returns \[loss, accuracy\]")
class TrainOnBatchReturnsOnlyTheLoss(Sequential):
    """train_on_batch returns the loss alone, also when metrics were compiled (Keras: [loss, accuracy])."""

    def train_on_batch(self, x, y):
        self._check_compiled()
        x, y = np.asarray(x, dtype=float), np.asarray(y)
        self._ensure_built(x)
        loss, _ = self._train_step(x, y)
        return loss


@mutant("model.sequential_predict", expect=r"predict called the layers' forward with training=\[True")
class PredictInTrainingMode(Sequential):
    """predict runs the layers with training=True (Dropout drops, BatchNormalization uses batch statistics)."""

    def predict(self, x, batch_size=32, verbose=0):
        x = np.asarray(x, dtype=float)
        self._ensure_built(x)
        return np.concatenate(
            [self.forward(x[i : i + batch_size], training=True) for i in range(0, len(x), batch_size)], axis=0
        )


@mutant(
    "attention.TransformerBlock",
    expect=r"your Dense gets \(batch, steps, features\).*backward must work on rows",
    module="model",
    target="Dense",
)
class DenseBackwardOnlyForMatrices(Dense):
    """backward assumes x is (batch, input_dim): a Dense after a sequence layer, (batch, time, features), breaks.
    The model track's kata asks for (batch, input_dim) only; the Transformer block's feed-forward layers are
    where a Dense first sees a sequence, so that is where this mistake must be caught."""

    def backward_from_logits(self, dz):
        x, kernel = self.inputs, self.weights[0]
        self.grads = [x.T @ dz, dz.sum(axis=0)]
        return dz @ kernel.T


@mutant("model.sequential_fit", expect=r"ran the layers with training=True on the validation samples")
class ValidationInTrainingMode(Sequential):
    """fit's validation loss is computed with training=True."""

    def _evaluate(self, x, y, batch_size):
        return self._run_batches(
            x,
            y,
            batch_indices(len(x), batch_size, False, None),
            lambda xb, yb: self._loss_and_output(xb, yb, training=True),
        )


@alternative("model.sequential_predict")
class PredictInOneForwardPass(Sequential):
    def predict(self, x, batch_size=32, verbose=0):
        x = np.asarray(x, dtype=float)
        self._ensure_built(x)
        return self.forward(x, training=False)


# third blind batch


@mutant("model.sequential_evaluate", expect=r"plain mean of the 3 batch accuracies")
class EvaluateAccuracyAveragedOverBatches(Sequential):
    """The loss is weighted by batch size, but the accuracy is the plain mean of the batches' accuracies."""

    def _run_batches(self, x, y, batches, step, progress=None):
        loss_total, seen, accuracies = 0.0, 0, []
        for number, index in enumerate(batches, start=1):
            loss, out = step(x[index], y[index])
            seen += len(index)
            loss_total += loss * len(index)
            if "accuracy" in self.metrics:
                accuracies.append(accuracy(y[index], out))
            logs = {"loss": loss_total / seen, **({"accuracy": float(np.mean(accuracies))} if accuracies else {})}
            if progress is not None:
                progress.update(number, logs)
        return logs


@mutant("model.sequential_compile", expect=r"without regard to case")
class CompileWithCaseSensitiveOptimizerNames(Sequential):
    """compile(optimizer="Adam") refused: only the lower-case names are looked up (Keras accepts both)."""

    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        if isinstance(optimizer, str) and optimizer not in ("sgd", "rmsprop", "adam"):
            raise ValueError(f"Unknown optimizer: {optimizer!r}. Use 'sgd', 'rmsprop' or 'adam'")
        super().compile(optimizer, loss, metrics)
