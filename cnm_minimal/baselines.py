"""Baselines that never look at the video (chapter 1, "The task").

Every number a model reaches must be read next to what needs no model at all:

* the **random** baseline draws a centre ``c ~ U(0, 1)`` and a width ``w ~ U(0, 1)`` per query and
  predicts ``[max(c - w/2, 0), min(c + w/2, 1)]``, the same parametrisation as CNM's Gaussian head
  (spec section 5). The paper prints a random row without saying how it drew its segments, so this
  is our choice, stated here.
* the **temporal prior** (mean training window) predicts, for every query, the average normalised
  start and the average normalised end of the training moments: ``[mean_q s_q, mean_q e_q]``.
  It uses the training annotations only, never the test ones.
"""

from __future__ import annotations

import numpy as np

from cnm_minimal.metrics import as_segments


def segments_from_centre_width(centre, width) -> np.ndarray:
    """``[max(c - w/2, 0), min(c + w/2, 1)]`` for each (centre, width) pair, shape ``[Q, 2]``."""
    centre = np.asarray(centre, dtype=np.float64)
    half = np.asarray(width, dtype=np.float64) / 2.0
    return np.stack([np.maximum(centre - half, 0.0), np.minimum(centre + half, 1.0)], axis=-1)


def random_segments(num_queries: int, seed: int) -> np.ndarray:
    """The random baseline: one uniformly drawn centre and width per query, reproducible by ``seed``."""
    if num_queries < 1:
        raise ValueError(f"num_queries must be at least 1, got {num_queries}")
    rng = np.random.default_rng(seed)
    centre, width = rng.random(num_queries), rng.random(num_queries)
    return segments_from_centre_width(centre, width)


def mean_training_window(train_segments) -> np.ndarray:
    """The temporal prior: the average normalised ``[start, end]`` of the training moments."""
    train = as_segments(train_segments, "train_segments")
    return train.mean(axis=0)


def constant_predictions(window, num_queries: int) -> np.ndarray:
    """Repeat one window ``[s, e]`` for ``num_queries`` queries, shape ``[Q, 2]``."""
    window = as_segments(window, "window")
    if window.shape[0] != 1:
        raise ValueError(f"window must be a single [start, end] segment, got {window.shape[0]}")
    return np.repeat(window, num_queries, axis=0)
