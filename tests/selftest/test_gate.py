"""A capstone's training run waits for its parity checks (dojo.testkit.gate)."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from dojo.testkit.checks import KataFailure, fail
from dojo.testkit.gate import LearningGate


def _impl(name="learner"):
    return SimpleNamespace(folder=Path("/tmp") / name)


def _parity_test(gate, behaviour):
    @gate.parity_check
    def test_fit_matches_keras(kata, impl, regime):
        """The parity check."""
        behaviour()
        return regime

    return test_fit_matches_keras


def test_a_passing_parity_check_leaves_the_training_run_to_start():
    gate = LearningGate("the seed MLP")
    check = _parity_test(gate, lambda: None)
    assert check(kata=None, impl=_impl(), regime="digits") == "digits"
    gate.require_parity(_impl())


@pytest.mark.parametrize(
    "failure",
    [lambda: fail("history differs"), lambda: 1 / 0, lambda: pytest.fail("stopped")],
    ids=["a failed check", "the learner's code raised", "pytest.fail"],
)
def test_a_failed_parity_check_holds_back_that_implementations_training_run(failure):
    gate = LearningGate("the seed MLP")
    check = _parity_test(gate, failure)
    with pytest.raises((Exception, pytest.fail.Exception)):
        check(kata=None, impl=_impl(), regime="digits")
    with pytest.raises(KataFailure, match=r"training run was not started: the seed MLP did not match Keras's fit"):
        gate.require_parity(_impl())
    gate.require_parity(_impl("someone else"))  # another folder's run is not held back


def test_a_passing_second_regime_does_not_reopen_the_gate():
    gate = LearningGate("the seed CNN")
    failing, passing = _parity_test(gate, lambda: fail("differs")), _parity_test(gate, lambda: None)
    with pytest.raises(KataFailure):
        failing(kata=None, impl=_impl(), regime="digits")
    passing(kata=None, impl=_impl(), regime="uniform")
    with pytest.raises(KataFailure):
        gate.require_parity(_impl())


def test_a_stub_does_not_close_the_gate_so_the_kata_stays_not_started():
    gate = LearningGate("the seed MLP")

    def wrapped_stub():
        try:
            raise NotImplementedError("kata model.seed_mlp")
        except NotImplementedError as error:
            raise KataFailure("fit raised") from error  # a check that wraps the learner's error

    for behaviour in (lambda: (_ for _ in ()).throw(NotImplementedError("kata model.fit")), wrapped_stub):
        with pytest.raises((NotImplementedError, KataFailure)):
            _parity_test(gate, behaviour)(kata=None, impl=_impl(), regime="digits")
    gate.require_parity(_impl())  # the training check goes on, and reaches the stub itself


def test_pytest_still_sees_the_parity_tests_own_parameters():
    import inspect

    check = _parity_test(LearningGate("x"), lambda: None)
    assert list(inspect.signature(check).parameters) == ["kata", "impl", "regime"]
    assert check.__name__ == "test_fit_matches_keras" and check.__doc__ == "The parity check."
