"""Sequence data for the `rnn` track's capstones, generated offline from a seed.

``negation_sentiment`` builds tiny "reviews" whose label depends on word
*order*, so that a model must remember what it has read:

* every review holds exactly one sentiment word (``good``-like or
  ``bad``-like) and exactly one ``not``, among filler words;
* the review is positive when a positive word is *not* directly preceded by
  ``not``, or a negative word *is* ("not bad" is positive);
* a ``not`` that is anywhere else changes nothing ("not long ... good").

A bag of words sees the same counts (one ``not``, one sentiment word) for
"not good" and for "good ... not", so it cannot beat chance (50%); a
recurrent model that remembers the previous word can reach 100%.

``noisy_sine_windows`` cuts a noisy sine wave into windows and the value that
follows each (one-step-ahead forecasting). ``random_reviews`` gives random
token sequences for parity checks.
"""

from __future__ import annotations

import numpy as np

PAD, NOT = 0, 1
POSITIVE = ("good", "great", "fine", "fun")
NEGATIVE = ("bad", "awful", "dull", "poor")
FILLER = ("the", "film", "was", "plot", "cast", "long", "and", "very", "it", "a")

#: id -> word; 0 is padding, 1 is "not".
VOCABULARY = ("<pad>", "not") + POSITIVE + NEGATIVE + FILLER
POSITIVE_IDS = np.arange(2, 2 + len(POSITIVE))
NEGATIVE_IDS = np.arange(POSITIVE_IDS[-1] + 1, POSITIVE_IDS[-1] + 1 + len(NEGATIVE))
FILLER_IDS = np.arange(NEGATIVE_IDS[-1] + 1, len(VOCABULARY))


def negation_sentiment(n: int, timesteps: int = 10, seed: int = 0):
    """``n`` reviews of ``timesteps`` token ids and their labels.

    Returns:
        ``(ids, labels)``: ``ids`` int64 ``(n, timesteps)`` with values in
        ``[0, len(VOCABULARY))``; ``labels`` float64 ``(n, 1)``, 1.0 = positive.
        Half of the reviews put ``not`` right before the sentiment word.
    """
    if timesteps < 3:
        raise ValueError(
            f"timesteps must be at least 3 (a 'not', a word and room to move the 'not'). "
            f"Received: timesteps={timesteps}"
        )
    rng = np.random.default_rng(seed)
    ids = rng.choice(FILLER_IDS, size=(n, timesteps))
    positive = rng.random(n) < 0.5
    negated = rng.random(n) < 0.5
    for row in range(n):
        word = rng.choice(POSITIVE_IDS if positive[row] else NEGATIVE_IDS)
        where = rng.integers(1, timesteps)  # room for a "not" before it
        ids[row, where] = word
        if negated[row]:
            ids[row, where - 1] = NOT
        else:  # anywhere but right before the word
            choices = [p for p in range(timesteps) if p not in (where - 1, where)]
            ids[row, rng.choice(choices)] = NOT
    labels = (positive ^ negated).astype(np.float64)[:, None]
    return ids.astype(np.int64), labels


def bag_of_words(ids, vocab_size: int = len(VOCABULARY)) -> np.ndarray:
    """Counts of each id per sequence, ``(n, vocab_size)`` float64: the order is thrown away."""
    ids = np.asarray(ids, dtype=np.int64)
    counts = np.zeros((ids.shape[0], vocab_size))
    np.add.at(counts, (np.arange(ids.shape[0])[:, None], ids), 1.0)
    return counts


def random_reviews(n: int, timesteps: int, vocab_size: int, seed: int = 0):
    """Random ids ``(n, timesteps)`` and random 0/1 labels ``(n, 1)``, for parity checks."""
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, vocab_size, size=(n, timesteps)).astype(np.int64),
        rng.integers(0, 2, size=(n, 1)).astype(np.float64),
    )


def decode(ids) -> str:
    """Token ids as words, for messages and docstrings."""
    return " ".join(VOCABULARY[int(i)] for i in ids)


def noisy_sine_windows(n: int, timesteps: int = 20, noise: float = 0.1, seed: int = 0):
    """Windows of a noisy sine wave and the value that follows each: one-step-ahead forecasting.

    The series is ``sin(2*pi*t / period) + noise * N(0, 1)`` with a period drawn
    per window between 15 and 30 steps and a random phase, so a model must read
    the window to know where the wave is going.

    Returns:
        ``(x, y)``: ``x`` float64 ``(n, timesteps, 1)``, ``y`` float64 ``(n, 1)``,
        the noisy value at the step after the window.
    """
    rng = np.random.default_rng(seed)
    period = rng.uniform(15.0, 30.0, size=(n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(n, 1))
    steps = np.arange(timesteps + 1)[None, :]
    series = np.sin(2 * np.pi * steps / period + phase) + noise * rng.normal(size=(n, timesteps + 1))
    return series[:, :timesteps, None], series[:, timesteps:]
