"""SciPy's ``expit`` and ``erf``, imported on their first call.

The kata tests use them to build the *wrong* answers a check names
("the sign of the exponent is flipped"), never the expected values (those are
TensorFlow's). Every kata test module is collected on every run, even on fresh
stubs, and importing ``scipy.special`` costs more than the rest of a first
report; so the import waits until a check actually needs one.
"""

from __future__ import annotations


def expit(x):
    """The logistic sigmoid 1 / (1 + exp(-x)), as ``scipy.special.expit``."""
    from scipy.special import expit as scipy_expit

    return scipy_expit(x)


def erf(x):
    """The error function, as ``scipy.special.erf``."""
    from scipy.special import erf as scipy_erf

    return scipy_erf(x)
