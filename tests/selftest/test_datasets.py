"""The capstones' digits (dojo.testkit.datasets): scikit-learn's own data, read fast, the same every call."""

import numpy as np
import pytest

from dojo.testkit import datasets

# left out of the quick tier: the digits read and upscaled
pytestmark = pytest.mark.slow


def test_the_digits_read_from_the_shipped_file_are_scikit_learns():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits as sklearn_digits

    assert datasets._shipped_digits_file() is not None, "scikit-learn moved digits.csv.gz: read it from its new place"
    images, labels = datasets._digit_images()
    expected = sklearn_digits()
    np.testing.assert_array_equal(images, expected.images)
    np.testing.assert_array_equal(labels, expected.target)


def test_without_the_shipped_file_scikit_learns_loader_gives_the_same(monkeypatch):
    pytest.importorskip("sklearn")
    shipped = datasets._digit_images()
    monkeypatch.setattr(datasets, "_shipped_digits_file", lambda: None)
    loaded = datasets._digit_images()
    np.testing.assert_array_equal(shipped[0], loaded[0])
    np.testing.assert_array_equal(shipped[1], loaded[1])


def test_each_call_gets_its_own_copy_of_the_same_split():
    (x_train, y_train), (x_test, y_test) = datasets.load_digits()
    assert x_train.shape == (1438, 28, 28) and x_test.shape == (359, 28, 28)
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert set(np.unique(y_test)) == set(range(10))
    x_train /= 255.0  # code that scales its input in place ...
    y_test[:] = 0
    (again, _), (_, labels) = datasets.load_digits()
    assert again.max() > 0.5 and set(np.unique(labels)) == set(range(10))  # ... changes nothing for the next call
