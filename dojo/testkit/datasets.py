"""Real data for the capstones, offline.

``load_digits()`` serves the 1,797 handwritten digits that ship inside
scikit-learn (8x8 images, 16 grey levels), upscaled to 28x28 so that the
seed's MNIST-shaped models apply unchanged. Nothing is downloaded.

``load_mnist()`` serves MNIST through ``keras.datasets.mnist`` only when it is
already in the Keras cache (``~/.keras/datasets/mnist.npz``); otherwise it
raises with a message that says how to get it, instead of trying the network.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

#: The fixed split: this fraction of each class is the test set, chosen with this seed.
TEST_FRACTION = 0.2
SPLIT_SEED = 0


def _upscale(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear upscaling of (n, 8, 8) images to (n, size, size), values kept in [0, 1]."""
    from scipy.ndimage import zoom

    factor = size / images.shape[1]
    return np.clip(zoom(images, (1, factor, factor), order=1), 0.0, 1.0)


def _shipped_digits_file() -> Path | None:
    """scikit-learn's own copy of the digits (``sklearn/datasets/data/digits.csv.gz``), found without importing
    scikit-learn: importing ``sklearn.datasets`` takes about a second, and every capstone check's process paid it."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            return path
    return None


def _digit_images() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 images ``(n, 8, 8)`` with 16 grey levels (0-16), and their labels.

    Each row of the shipped file is 64 pixel values, row by row, then the label; if a scikit-learn
    release moves the file, its public loader gives the same arrays (a self-test compares the two).
    """
    path = _shipped_digits_file()
    if path is None:
        from sklearn.datasets import load_digits as sklearn_digits

        digits = sklearn_digits()
        return digits.images, digits.target
    rows = np.loadtxt(path, delimiter=",")
    return rows[:, :-1].reshape(-1, 8, 8), rows[:, -1].astype(np.int64)


@functools.lru_cache(maxsize=4)
def _split_digits(size: int, test_fraction: float, seed: int):
    pixels, target = _digit_images()
    images = pixels.astype(np.float64) / 16.0  # 16 grey levels -> [0, 1]
    if size != 8:
        images = _upscale(images, size)
    labels = target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for digit in range(10):  # stratified: the same fraction of every class
        members = np.flatnonzero(labels == digit)
        chosen = rng.choice(members, size=int(round(test_fraction * len(members))), replace=False)
        test[chosen] = True
    return (images[~test], labels[~test]), (images[test], labels[test])


def load_digits(size: int = 28, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED):
    """The scikit-learn digits as MNIST-like arrays, with a fixed stratified split.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` float64 of shape
        ``(n, size, size)`` with values in [0, 1]; ``y`` int64 labels 0-9.
        With the defaults: 1,438 training and 359 test images, the same every time.

    Computed once per process (a capstone's checks ask for them several times), and handed out as
    fresh copies: code that scales its input in place cannot change what the next check gets.
    """
    (x_train, y_train), (x_test, y_test) = _split_digits(size, test_fraction, seed)
    return (x_train.copy(), y_train.copy()), (x_test.copy(), y_test.copy())


class DatasetNotCached(RuntimeError):
    """MNIST is not in the local Keras cache, and this project never downloads at run time."""


def load_mnist():
    """MNIST from the Keras cache, scaled to [0, 1] float64: ``(x_train, y_train), (x_test, y_test)``."""
    cached = Path.home() / ".keras" / "datasets" / "mnist.npz"
    if not cached.exists():
        raise DatasetNotCached(
            f"MNIST is not cached at {cached}. On a machine with internet, run once:\n"
            f'    python -c "import keras; keras.datasets.mnist.load_data()"\n'
            f"then copy that file here. Or use dojo.testkit.datasets.load_digits(), which ships with scikit-learn."
        )
    with np.load(cached) as data:
        return (
            (data["x_train"] / 255.0, data["y_train"].astype(np.int64)),
            (data["x_test"] / 255.0, data["y_test"].astype(np.int64)),
        )
