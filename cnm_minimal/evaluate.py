"""Evaluation: predictions for a split, the benchmark's metrics, and per-query records (chapter 9).

Inference is mask generation alone (chapter 8): ``[max(c - w/2, 0), min(c + w/2, 1)]``; the metrics are
chapter 1's R@1 at IoU 0.1/0.3/0.5/0.7/0.9 and mIoU over every query of the split.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from cnm_minimal.gaussian_mask import predict_segment
from cnm_minimal.metrics import localization_metrics, temporal_iou


@torch.no_grad()
def predict_split(model, loader, device, reverse_time: bool = False) -> dict[str, np.ndarray]:
    """Run inference over a loader: predicted segments, centres, widths, ground truth and dataset indices.

    ``reverse_time`` plays every video backwards (its clips in reverse order) and mirrors its moment to
    ``[1 - e, 1 - s]`` (chapter 11): a model that reads the clips follows the moment."""
    model.eval()
    parts: dict[str, list] = {"predicted": [], "centre": [], "width": [], "moment": [], "index": []}
    for batch in loader:
        batch = batch.to(device)
        frames, moments = batch.frames, batch.moments
        if reverse_time:
            frames, moments = frames.flip(1), torch.stack([1 - moments[:, 1], 1 - moments[:, 0]], dim=1)
        clips, words = model.embed(frames, batch.words)
        centre, width = model.generate_mask(clips, words, batch.lengths)
        parts["predicted"].append(predict_segment(centre, width).float().cpu())
        parts["centre"].append(centre.float().cpu())
        parts["width"].append(width.float().cpu())
        parts["moment"].append(moments.cpu())
        parts["index"].append(batch.index.cpu())
    return {k: torch.cat(v).numpy() for k, v in parts.items()}


def evaluate_predictions(predictions: dict[str, np.ndarray], keep: np.ndarray | None = None) -> dict[str, float]:
    """The table row (R@1 at each IoU threshold and mIoU, fractions) of a :func:`predict_split` result, over
    every query or over those where ``keep[index]`` is True (``keep`` is indexed by dataset index)."""
    predicted, moments = np.clip(predictions["predicted"], 0, 1), predictions["moment"]
    if keep is not None:
        rows = np.asarray(keep)[predictions["index"].astype(np.int64)]
        predicted, moments = predicted[rows], moments[rows]
    return localization_metrics(predicted, moments)


def save_predictions(path, predictions: dict[str, np.ndarray], queries) -> None:
    """One json line per query: video, sentence, ground truth, prediction, centre, width, IoU (atomic write)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ious = temporal_iou(np.clip(predictions["predicted"], 0, 1), predictions["moment"])
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for k, index in enumerate(predictions["index"]):
            q = queries[int(index)]
            handle.write(json.dumps({
                "vid": q.vid, "sentence": q.sentence, "duration": q.duration,
                "moment": [round(float(x), 6) for x in predictions["moment"][k]],
                "predicted": [round(float(x), 6) for x in predictions["predicted"][k]],
                "centre": round(float(predictions["centre"][k]), 6), "width": round(float(predictions["width"][k]), 6),
                "iou": round(float(ious[k]), 6),
            }) + "\n")
    os.replace(tmp, path)


def read_predictions(path) -> list[dict]:
    """The records written by :func:`save_predictions`."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
