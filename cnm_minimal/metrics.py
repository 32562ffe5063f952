"""Temporal IoU, R@1 at IoU thresholds and mIoU (chapter 1, "The task").

A moment is a segment ``[start, end]`` of a video, normalised by the video's duration so that
``0 <= start <= end <= 1``. The model predicts one segment per (video, sentence) query, and the
benchmark compares it with the annotated segment by their temporal intersection over union

    IoU(p, g) = (min(e_p, e_g) - max(s_p, s_g) + 1e-10) / (max(e_p, e_g) - min(s_p, s_g) + 1e-10),

clamped at 0 when the segments do not overlap. This is exactly the formula of the authors' code
(page "The authors' code"); the ``1e-10`` makes two identical zero-length segments score 1 and two touching
segments score a tiny positive number. The reported numbers are

    R@1, IoU=theta = (1/Q) * #{q : IoU_q >= theta},   theta in {0.1, 0.3, 0.5, 0.7, 0.9},
    mIoU          = (1/Q) * sum_q IoU_q,

averaged over all Q test queries. Charades-CD (Yuan et al. 2021, "A Closer Look at Temporal Sentence
Grounding in Videos") also reports a discounted recall, which scales each hit by how far its boundaries are
off:

    dR@1, IoU=m = (1/Q) * sum_q 1[IoU_q >= m] * (1 - |s'_q - s_q|) * (1 - |e'_q - e_q|),   m in {0.3, 0.5,
    0.7},

with prediction ``[s', e']`` and ground truth ``[s, e]``; the paper divides both gaps by the duration, which
segments normalised by the duration already are. Functions return fractions in [0, 1]; papers print
percentages.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-10
"""The constant the authors' IoU adds to numerator and denominator."""

IOU_THRESHOLDS = (0.1, 0.3, 0.5, 0.7, 0.9)
"""The IoU thresholds theta of R@1, IoU=theta reported in the book (the paper uses a subset)."""

DR_THRESHOLDS = (0.3, 0.5, 0.7)
"""The IoU thresholds m of Charades-CD's discounted recall dR@1, IoU=m."""


def as_segments(segments, name: str = "segments") -> np.ndarray:
    """Check and convert ``segments`` to a float64 array of shape ``[Q, 2]``.

    A single segment ``[s, e]`` becomes shape ``[1, 2]``. Raises ``ValueError`` naming the first
    offending index for a wrong shape, a non-finite value, a value outside ``[0, 1]`` or
    ``start > end``.
    """
    array = np.asarray(segments, dtype=np.float64)
    if array.ndim == 1 and array.shape[0] == 2:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{name} must have shape [Q, 2] (start, end); got shape {array.shape}")
    checks = (
        (~np.isfinite(array).all(axis=1), "is not finite"),
        (((array < 0.0) | (array > 1.0)).any(axis=1), "lies outside [0, 1]"),
        (array[:, 0] > array[:, 1], "has start > end"),
    )
    for bad, what in checks:
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name}[{index}] = {array[index].tolist()} {what} "
                f"({int(bad.sum())} such segment(s) in all); segments are normalised [start, end]"
            )
    return array


def interval_iou(start_a, end_a, start_b, end_b):
    """The benchmark's IoU of ``[start_a, end_a]`` and ``[start_b, end_b]``, element-wise with broadcasting,
    on NumPy arrays or torch tensors alike: the one implementation of the formula (the window search of
    :mod:`cnm_minimal.baselines` and CPL's vote call it too)."""
    if type(start_a).__module__.startswith("torch"):
        import torch

        inter = torch.minimum(end_a, end_b) - torch.maximum(start_a, start_b)
        union = torch.maximum(end_a, end_b) - torch.minimum(start_a, start_b)
        return ((inter + EPS) / (union + EPS)).clamp(min=0.0)
    intersection = np.minimum(end_a, end_b) - np.maximum(start_a, start_b)
    union = np.maximum(end_a, end_b) - np.minimum(start_a, start_b)
    return np.maximum((intersection + EPS) / (union + EPS), 0.0)


def temporal_iou(predicted, ground_truth) -> np.ndarray:
    """Element-wise temporal IoU of two aligned sets of segments, shape ``[Q]`` (page "The authors' code")."""
    pred = as_segments(predicted, "predicted")
    gt = as_segments(ground_truth, "ground_truth")
    if pred.shape != gt.shape:
        raise ValueError(f"predicted has {len(pred)} segments but ground_truth has {len(gt)}")
    return interval_iou(pred[:, 0], pred[:, 1], gt[:, 0], gt[:, 1])


def recall_at_iou(ious, thresholds=IOU_THRESHOLDS) -> dict[float, float]:
    """R@1 at each IoU threshold: the fraction of queries whose IoU is at least the threshold."""
    ious = np.asarray(ious, dtype=np.float64).reshape(-1)
    if ious.size == 0:
        raise ValueError("recall_at_iou needs at least one query")
    return {float(t): float(np.mean(ious >= t)) for t in thresholds}


def localization_metrics(predicted, ground_truth, thresholds=IOU_THRESHOLDS) -> dict[str, float]:
    """The benchmark's table row: ``{"R@0.1": ..., ..., "R@0.9": ..., "mIoU": ...}`` as fractions."""
    ious = temporal_iou(predicted, ground_truth)
    row = {f"R@{t:g}": value for t, value in recall_at_iou(ious, thresholds).items()}
    row["mIoU"] = float(ious.mean())
    return row


def discounted_recall(predicted, ground_truth, thresholds=DR_THRESHOLDS) -> dict[float, float]:
    """Charades-CD's dR@1 at each IoU threshold: a hit counts ``(1 - |s' - s|) * (1 - |e' - e|)``, not 1."""
    ious = temporal_iou(predicted, ground_truth)
    if ious.size == 0:
        raise ValueError("discounted_recall needs at least one query")
    pred, gt = as_segments(predicted, "predicted"), as_segments(ground_truth, "ground_truth")
    discount = (1.0 - np.abs(pred[:, 0] - gt[:, 0])) * (1.0 - np.abs(pred[:, 1] - gt[:, 1]))
    return {float(t): float(np.mean((ious >= t) * discount)) for t in thresholds}


def discounted_metrics(predicted, ground_truth) -> dict[str, float]:
    """Charades-CD's table row: ``{"dR@0.3": ..., "dR@0.5": ..., "dR@0.7": ...}`` as fractions."""
    return {f"dR@{t:g}": value for t, value in discounted_recall(predicted, ground_truth).items()}
