"""Baselines that never look at the video (chapter 1, "The task").

Every number a model reaches must be read next to what needs no model at all:

* the **random** baseline draws a centre ``c ~ U(0, 1)`` and a width ``w ~ U(0, 1)`` per query and
  predicts ``[max(c - w/2, 0), min(c + w/2, 1)]``, the same parametrisation as CNM's Gaussian head
  (page "The authors' code"). The paper prints a random row without saying how it drew its segments, so this
  is our choice, stated here.
* the **temporal prior** (mean training window) predicts, for every query, the average normalised
  start and the average normalised end of the training moments: ``[mean_q s_q, mean_q e_q]``.
  It uses the training annotations only, never the test ones.
* the **best constant window** is the single window ``[a, b]`` with the highest mean IoU over the
  training moments, found on a grid: the strongest predictor that ignores both video and sentence.
* the **window by duration** (chapter 11) is a prior that also knows the video's length: the training videos
  are cut into groups of equal size by duration, each group gets its own best constant window, and a test
  query gets the window of its video's group.
* the **temporal-prior sampler** draws, per query, a (centre, width) bin from the empirical joint histogram of
  the training moments' normalised centres ``(s + e) / 2`` and widths ``e - s`` (``bins`` x ``bins`` cells on
  ``[0, 1]^2``), then a point uniformly within that cell, and predicts ``[max(c - w/2, 0), min(c + w/2, 1)]``
  as the random baseline does: random segments shaped like the training moments, for the splits of Charades-CD
  whose test moments lie elsewhere than the training ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnm_minimal.metrics import as_segments, interval_iou


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


def best_constant_window(train_segments, step: float = 0.01) -> np.ndarray:
    """The window ``[a, b]`` on a grid of ``step`` that maximises the mean IoU with the training moments."""
    train = as_segments(train_segments, "train_segments")
    grid = np.round(np.arange(0.0, 1.0 + step / 2, step), 10)
    starts, ends = np.meshgrid(grid, grid, indexing="ij")
    keep = starts < ends
    a, b = starts[keep], ends[keep]  # every candidate window, [W]
    best, best_score = None, -1.0
    for chunk in range(0, len(a), 2048):  # [W_chunk, Q] IoUs without a Python loop over Q
        ca, cb = a[chunk : chunk + 2048, None], b[chunk : chunk + 2048, None]
        scores = interval_iou(ca, cb, train[None, :, 0], train[None, :, 1]).mean(axis=1)
        k = int(scores.argmax())
        if scores[k] > best_score:
            best, best_score = np.array([ca[k, 0], cb[k, 0]]), float(scores[k])
    return best


def window_by_duration(
    train_segments, train_durations, test_durations, groups: int = 4, step: float = 0.01
) -> np.ndarray:
    """The prior given only the video's length, ``[Q_test, 2]``: the best constant window of the training
    queries whose duration falls in the same of ``groups`` equal-count duration groups."""
    train = as_segments(train_segments, "train_segments")
    train_durations = np.asarray(train_durations, dtype=np.float64)
    test_durations = np.asarray(test_durations, dtype=np.float64)
    if train_durations.shape != (len(train),):
        raise ValueError(f"train_durations has shape {train_durations.shape}, expected ({len(train)},)")
    edges = np.quantile(train_durations, np.linspace(0, 1, groups + 1)[1:-1])
    train_group = np.searchsorted(edges, train_durations, side="right")
    test_group = np.searchsorted(edges, test_durations, side="right")
    windows = np.stack(
        [
            best_constant_window(train[train_group == k] if (train_group == k).any() else train, step)
            for k in range(groups)
        ]
    )
    return windows[test_group]


@dataclass(frozen=True, eq=False)
class PriorSampler:
    """The fitted histogram: ``probabilities[i, j]`` of centre bin ``i`` and width bin ``j``, on shared
    ``edges``."""

    probabilities: np.ndarray  # [bins, bins], sums to 1, read-only
    edges: np.ndarray  # [bins + 1], from 0 to 1, read-only


def fit_prior_sampler(train_segments, bins: int = 20) -> PriorSampler:
    """The temporal-prior sampler: the joint histogram of the training moments' (centre, width)."""
    train = as_segments(train_segments, "train_segments")
    if len(train) == 0:
        raise ValueError("fit_prior_sampler needs at least one training moment")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    edges = np.linspace(0.0, 1.0, bins + 1)
    centre, width = train.mean(axis=1), train[:, 1] - train[:, 0]
    counts, _, _ = np.histogram2d(centre, width, bins=[edges, edges])
    probabilities = counts / counts.sum()
    probabilities.setflags(write=False)
    edges.setflags(write=False)
    return PriorSampler(probabilities, edges)


def sample_prior(prior: PriorSampler, num_queries: int, seed: int) -> np.ndarray:
    """``num_queries`` segments from the sampler, ``[Q, 2]``: a cell by its probability, then a point uniform
    in it."""
    if num_queries < 1:
        raise ValueError(f"num_queries must be at least 1, got {num_queries}")
    rng = np.random.default_rng(seed)
    bins = len(prior.edges) - 1
    cell = rng.choice(bins * bins, size=num_queries, p=prior.probabilities.reshape(-1))
    i, j = np.divmod(cell, bins)
    low, size = prior.edges[:-1], np.diff(prior.edges)
    centre = low[i] + rng.random(num_queries) * size[i]
    width = low[j] + rng.random(num_queries) * size[j]
    return segments_from_centre_width(centre, width)
