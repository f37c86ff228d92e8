"""Hold back a capstone's long training run until its quick Keras-parity checks pass.

A capstone kata checks the learner's model twice: a few epochs from the same
weights as Keras, compared value by value (seconds), then a real training
run on the digits (tens of seconds). When the parity check already failed,
the long run can only fail too, or pass by luck, and either way the learner
waits for it on every run. So the parity checks report to a :class:`LearningGate`,
and the training check asks it first::

    SEED_MLP = LearningGate("the seed MLP")

    @SEED_MLP.parity_check                   # any failure of this test closes the gate
    def test_fit_matches_keras(impl):
        ...

    def test_learns_the_digits(impl):
        SEED_MLP.require_parity(impl)        # fails at once, naming the parity check
        ...

The report shows the first failing check's message, which is the parity
check's: holding the long run back changes what the learner waits for, not
what they are told. An unwritten kata (``NotImplementedError``) does not close
the gate, so the training check reaches the stub itself and the kata stays
"not started". Each kata's checks run in one process, so the gate's memory
(per implementation folder) spans exactly one kata's checks.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from .checks import check


class LearningGate:
    """Which implementation folders failed this capstone's parity checks, in this process."""

    def __init__(self, model: str):
        self.model = model
        self._failed: set[Path] = set()

    def parity_check(self, test):
        """Decorate a parity test (one that takes the ``impl`` fixture): if it fails, or the learner's code
        raises, the training run of that implementation is held back. Put it below the pytest marks."""

        @functools.wraps(test)  # pytest still sees the test's own parameters (it follows __wrapped__)
        def checked(**fixtures):
            try:
                return test(**fixtures)
            except (Exception, pytest.fail.Exception) as error:
                if not _unwritten(error):
                    self._failed.add(fixtures["impl"].folder)
                raise

        return checked

    def require_parity(self, impl) -> None:
        """Fail at once when a parity check of ``impl`` failed: the long run is not worth the wait."""
        check(
            impl.folder not in self._failed,
            f"the training run was not started: {self.model} did not match Keras's fit from the same "
            f"weights in an earlier check (its message says where); fix that first",
        )


def _unwritten(error: BaseException) -> bool:
    """A stub's NotImplementedError anywhere in the chain (a check may wrap it): the kata is not started."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, NotImplementedError):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False
