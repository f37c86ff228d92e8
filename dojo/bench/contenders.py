"""Turn a contender into something to time, or into the reason it cannot race.

Each contender becomes a :class:`Prepared`: a thunk that does the operation
once on the shared inputs, and a label for its table row. When a contender
cannot race (the learner's kata does not pass yet, ``kernels`` lacks the
operation, a module of the answer key is not written yet) this raises
:class:`CannotRace` with a reason, and the race skips that row with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ..course.implementation import Implementation, KataLoadError, MissingKataError
from . import gpu
from .operation import ANSWER_KEY, CUPY, KERNELS, LEARNER, TENSORFLOW, Contender, Operation, Thunk


class CannotRace(Exception):
    """This contender has no row in this table; the message says why."""


@dataclass
class Prepared:
    thunk: Thunk
    label: str
    on_gpu: bool = False


class Field:
    """Everything the contenders need, made once per run."""

    def __init__(self, root: Path, learner: Implementation | None, gate=None, threads: int | None = None):
        self.root = root
        self.threads = threads
        self.learner = learner
        self.answer_key = Implementation(root / "solutions")
        self.gate = gate

    @cached_property
    def tf(self):
        from reference._engine import tf

        module = tf()
        if self.threads:
            try:  # only possible before TensorFlow runs its first operation in this process
                module.config.threading.set_intra_op_parallelism_threads(self.threads)
                module.config.threading.set_inter_op_parallelism_threads(1)
            except RuntimeError:
                self.threads_note = "TensorFlow was already running: its thread count is unchanged"
        return module

    @cached_property
    def kernels(self):
        import kernels

        return kernels

    threads_note = ""

    def tf_label(self) -> str:
        device = "GPU" if self.tf.config.list_physical_devices("GPU") else "CPU"
        return f"TensorFlow {self.tf.__version__} ({device})"

    def kernels_label(self) -> str:
        if self.kernels.backend() == "cupy":
            return f"kernels (CuPy on {gpu.device_name()})"
        return "kernels (NumPy fallback, no GPU)"

    def learner_label(self) -> str:
        return f"your code ({_short(self.learner.folder, self.root)}/)"

    def label(self, contender: Contender, operation: Operation | None = None) -> str:
        """The row's label, also for a contender that will not race."""
        if contender.kind == TENSORFLOW:
            return self.tf_label()
        if contender.kind == KERNELS:
            return self.kernels_label()
        if contender.kind == ANSWER_KEY:
            if contender.target or (operation is not None and operation.extra):
                # several answer-key functions in one table: name each
                return f"answer key ({contender.target or operation.kata[1]})"
            return "answer key (solutions/)"
        return self.learner_label() if self.learner is not None else LEARNER

    # -------------------------------------------------------------- prepare

    def prepare(self, contender: Contender, operation: Operation, inputs: tuple) -> Prepared:
        if contender.kind == TENSORFLOW:
            tensors = tuple(self.tf.constant(a) if _is_array(a) else a for a in inputs)
            return Prepared(operation.tensorflow(self.tf, *tensors), self.tf_label())
        if contender.kind == KERNELS:
            return self._kernels(operation, inputs)
        if contender.kind == CUPY:
            return self._cupy(operation, inputs)
        if contender.kind == ANSWER_KEY:
            function = self._function(self.answer_key, operation, contender, "the answer key")
            thunk = self._build(ANSWER_KEY, operation, function, inputs)
            return Prepared(thunk, self.label(contender, operation), on_gpu=getattr(thunk, "on_gpu", False))
        if contender.kind == LEARNER:
            if self.learner is None:
                raise CannotRace("--bench-skip-learner")
            if self.learner.folder == self.answer_key.folder:
                raise CannotRace("--impl is the answer key: see its row")
            function = self._function(self.learner, operation, contender, "your code")
            thunk = self._build(LEARNER, operation, function, inputs)
            return Prepared(thunk, self.label(contender), on_gpu=getattr(thunk, "on_gpu", False))
        raise ValueError(f"unknown contender {contender!r}")

    def learner_gate(self, operation: Operation, contender: Contender) -> str | None:
        module, name = operation.kata
        pairs = ((module, contender.target or name),) + tuple(operation.gate)
        return self.gate.why_not(pairs) if self.gate is not None else None

    def _function(self, implementation: Implementation, operation: Operation, contender: Contender, who: str):
        module, name = operation.kata
        name = contender.target or name
        try:
            return implementation.get(module, name)
        except KataLoadError as error:
            if error.line is None and not error.path.exists():
                raise CannotRace(f"{who} has no {module}.py yet") from None
            raise CannotRace(f"{module}.py does not import: {error.summary.splitlines()[0][:70]}") from None
        except MissingKataError:
            raise CannotRace(f"{who} has no {module}.{name} yet") from None

    def _build(self, kind: str, operation: Operation, function, inputs) -> Thunk:
        build = operation.build.get(kind)
        if build is not None:
            return build(function, inputs)
        kwargs = dict(operation.kwargs)
        return lambda: function(*inputs, **kwargs)

    def _kernels(self, operation: Operation, inputs: tuple) -> Prepared:
        kernels = self.kernels
        function = getattr(kernels, operation.kernel, None)
        if function is None:
            raise CannotRace(f"kernels has no {operation.kernel} yet")
        on_gpu = kernels.backend() == "cupy"
        if on_gpu:
            inputs = gpu.to_device(inputs)
        build = operation.build.get(KERNELS)
        if build is not None:
            thunk = build(function, inputs)
        else:
            kwargs = dict(operation.kwargs)
            thunk = lambda: function(*inputs, **kwargs)  # noqa: E731
        if on_gpu:
            thunk = gpu.synchronised(thunk)
        return Prepared(thunk, self.kernels_label(), on_gpu=on_gpu)

    def _cupy(self, operation: Operation, inputs: tuple) -> Prepared:
        """CuPy's own functions on the device (cuBLAS, CuPy's reductions): only where a GPU is."""
        if self.kernels.backend() != "cupy":
            raise CannotRace(f"CuPy's built-ins need a CUDA device ({self.kernels.why_no_gpu()})")
        import cupy

        thunk = gpu.synchronised(operation.cupy(cupy, *gpu.to_device(inputs)))
        return Prepared(thunk, f"CuPy built-in ({gpu.device_name()})", on_gpu=True)

    def cost(self, operation: Operation, inputs: tuple) -> tuple[float, float] | None:
        """(bytes moved, FLOPs): ``kernels.cost`` when it knows the operation, else the module's estimate."""
        # kernels.cost takes the kernel's own arguments: only where the kernel is called on these inputs.
        same_call = operation.kernel and KERNELS not in operation.build
        cost = getattr(self.kernels, "cost", None) if same_call else None
        if cost is not None:
            try:
                return tuple(float(v) for v in cost(operation.kernel, *inputs))
            except Exception:
                pass
        if operation.cost is not None:
            return tuple(float(v) for v in operation.cost(*inputs))
        return None


def _is_array(value: Any) -> bool:
    import numpy as np

    return isinstance(value, np.ndarray)


def _short(folder: Path, root: Path) -> str:
    try:
        return str(folder.relative_to(root))
    except ValueError:
        return str(folder)
