"""assert_close names float32 arithmetic, and only float32 arithmetic."""

import numpy as np
import pytest

from dojo.testkit.checks import KataFailure, assert_close


def _message(got, expected):
    with pytest.raises(KataFailure) as failure:
        assert_close(got, expected, call="f(x)", rtol=1e-10)
    return str(failure.value)


def test_a_result_computed_in_float32_is_named():
    x = np.random.default_rng(0).normal(size=(20, 5))
    expected = x @ np.linspace(0.1, 0.9, 5)
    got = (x.astype(np.float32) @ np.linspace(0.1, 0.9, 5).astype(np.float32)).astype(float)
    assert "float32's precision" in _message(got, expected)


def test_a_wrong_formula_is_not_called_float32():
    x = np.random.default_rng(1).normal(size=(20, 5))
    assert "float32" not in _message(x.sum(axis=1) * 1.01, x.sum(axis=1))


def test_the_callers_own_float32_note_is_kept_alone():
    expected = np.random.default_rng(2).normal(size=8)
    got = expected.astype(np.float32).astype(float)
    with pytest.raises(KataFailure) as failure:
        assert_close(got, expected, call="f(x)", rtol=1e-10, note="agrees only to float32's 7 digits")
    assert str(failure.value).count("float32") == 1
