"""Evaluation: predictions for a split, the benchmark's metrics, and per-query records (chapter 9).

Inference is the model's :meth:`predict_batch <cnm_minimal.model.CNM.predict_batch>`: for CNM mask generation
alone, the moment ``[max(c - w/2, 0), min(c + w/2, 1)]``; for CPL the proposal that reconstructs the query
best (words masked by a generator seeded per split, so every evaluation of a model gives the same numbers).
The metrics are chapter 1's R@1 at IoU 0.1/0.3/0.5/0.7/0.9 and mIoU, over every query of a split, over its
prior-hard queries (where the best constant window scores IoU < 0.3, chapter 11) and over the split played
backwards (time-reversed: a model that reads the clips follows the moment), with Charades-CD's discounted
recall dR@1 beside them, and the correlation of predicted and true centres. :func:`reconstruction_gaps`
measures what the contrastive loss works on (chapter 10): how much better the positive sample reconstructs a
query than the hard and the easy negative do.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from cnm_minimal.atomic import atomic_write
from cnm_minimal.bias import prior_hard
from cnm_minimal.data.dataset import Collate
from cnm_minimal.metrics import discounted_metrics, localization_metrics, temporal_iou


def split_loader(dataset, embeddings, batch_size: int) -> torch.utils.data.DataLoader:
    """A split's batches in order (evaluation)."""
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=False, collate_fn=Collate(embeddings)
    )


def _collect(parts: dict[str, list], prediction, moments: torch.Tensor, index: torch.Tensor) -> None:
    values = {"predicted": prediction.segment, "centre": prediction.centre, "width": prediction.width}
    if hasattr(prediction, "vote_segment"):  # a model that proposes several moments: the vote's answer too
        values["vote"] = prediction.vote_segment
    for name, value in (values | {"moment": moments, "index": index}).items():
        parts.setdefault(name, []).append(value.float().cpu() if value.is_floating_point() else value.cpu())


@torch.no_grad()
def predict_split(model, loader, device, reverse_time: bool = False, seed: int = 0) -> dict[str, np.ndarray]:
    """Run inference over a loader: predicted segments, centres, widths, ground truth and dataset indices
    (and, for CPL, the vote's segments, ``"vote"``).

    ``reverse_time`` plays every video backwards (its clips in reverse order) and mirrors its moment to
    ``[1 - e, 1 - s]``; ``seed`` seeds the draws of a model that reconstructs at inference (CPL
    masks words)."""
    model.eval()
    parts: dict[str, list] = {"predicted": [], "centre": [], "width": [], "moment": [], "index": []}
    with torch.random.fork_rng(devices=[]):  # a model's draws at inference, seeded, the caller's untouched
        torch.manual_seed(seed)
        for batch in loader:
            batch = batch.to(device)
            frames, moments = batch.frames, batch.moments
            if reverse_time:
                frames, moments = frames.flip(1), torch.stack([1 - moments[:, 1], 1 - moments[:, 0]], dim=1)
            _collect(parts, model.predict_batch(batch, frames), moments, batch.index)
    return {k: torch.cat(v).numpy() for k, v in parts.items()}


def evaluate_predictions(
    predictions: dict[str, np.ndarray], keep: np.ndarray | None = None
) -> dict[str, float]:
    """The table row (R@1 at each IoU threshold and mIoU, fractions) of a :func:`predict_split` result, over
    every query or over those where ``keep[index]`` is True (``keep`` is indexed by dataset index)."""
    predicted, moments = np.clip(predictions["predicted"], 0, 1), predictions["moment"]
    if keep is not None:
        rows = np.asarray(keep)[predictions["index"].astype(np.int64)]
        predicted, moments = predicted[rows], moments[rows]
    return localization_metrics(predicted, moments) | discounted_metrics(predicted, moments)


def centre_correlation(predictions: dict[str, np.ndarray]) -> float:
    """Pearson correlation of predicted and true moment centres (0 for a model that ignores the video)."""
    truth = predictions["moment"].mean(axis=1)
    if len(truth) < 2 or np.std(truth) == 0 or np.std(predictions["centre"]) == 0:
        return 0.0
    return float(np.corrcoef(predictions["centre"], truth)[0, 1])


@torch.no_grad()
def reconstruction_gaps(model, loader, device, seed: int = 0) -> dict[str, float]:
    """Mean per-sentence reconstruction loss of the positive and of each negative over a split (the same
    masked words for all, drawn with ``seed``), and the gaps ``negative - positive``: what the hinges (Eq.
    7.2) see. CNM: the hard and the easy negative (``gap_hard``, ``gap_easy``), whatever the run's ablation;
    CPL: the whole video and the best proposal's left and right negatives."""
    model.eval()
    rng, sums, count = torch.Generator().manual_seed(seed), {}, 0
    for batch in loader:
        batch = batch.to(device)
        for name, loss in model.sample_nll(batch, rng).items():
            sums[name] = sums.get(name, 0.0) + float(loss.float().sum())
        count += len(batch.lengths)
    means = {name: total / max(count, 1) for name, total in sums.items()}
    return means | {f"gap_{name}": means[name] - means["positive"] for name in means if name != "positive"}


def score_split(model, dataset, embeddings, device, batch_size: int, constant_window) -> tuple[dict, dict]:
    """Every query, the prior-hard ones and the time-reversed split: ``(rows, predictions)``.

    The prior-hard row is absent when the split has no prior-hard query."""
    loader = split_loader(dataset, embeddings, batch_size)
    predictions = predict_split(model, loader, device)
    hard = prior_hard(np.array([q.moment for q in dataset.queries]).reshape(-1, 2), constant_window)
    rows = {
        "all": evaluate_predictions(predictions),
        "prior_hard_count": int(hard.sum()),
        "centre_correlation": centre_correlation(predictions),
    }
    if hard.any():
        rows["prior_hard"] = evaluate_predictions(predictions, hard)
    rows["reversed"] = evaluate_predictions(predict_split(model, loader, device, reverse_time=True))
    if "vote" in predictions:  # CPL: the vote's answers beside the lowest-loss ones
        rows["vote"] = evaluate_predictions(predictions | {"predicted": predictions["vote"]})
    return rows, predictions


def evaluate_model(model, data, constant_window, device, batch_size: int) -> tuple[dict, dict]:
    """What the trainer records after each epoch: validation and test (all, prior-hard, time-reversed),
    and the test predictions."""
    val_loader = split_loader(data.splits["val"], data.embeddings, batch_size)
    val = evaluate_predictions(predict_split(model, val_loader, device))
    test, predictions = score_split(
        model, data.splits["test"], data.embeddings, device, batch_size, constant_window
    )
    record = {
        "mean_width": float(predictions["width"].mean()),
        "val": val,
        "test": test["all"],
        "test_prior_hard": test.get("prior_hard"),
        "prior_hard_count": test["prior_hard_count"],
        "test_reversed": test["reversed"],
        "centre_correlation": test["centre_correlation"],
        "val_gaps": reconstruction_gaps(model, val_loader, device),
    }
    if "vote" in test:
        record["test_vote"] = test["vote"]
    for name in sorted(
        set(data.splits) - {"train", "val", "test"}
    ):  # further test splits (Charades-CD's iid)
        rows, _ = score_split(model, data.splits[name], data.embeddings, device, batch_size, constant_window)
        record[name] = rows
    return record, predictions


def save_predictions(path, predictions: dict[str, np.ndarray], queries) -> None:
    """One json line per query: video, sentence, ground truth, prediction, centre, width, IoU (atomic
    write)."""
    ious = temporal_iou(np.clip(predictions["predicted"], 0, 1), predictions["moment"])
    with atomic_write(path) as handle:
        for k, index in enumerate(predictions["index"]):
            q = queries[int(index)]
            handle.write(
                json.dumps(
                    {
                        "vid": q.vid,
                        "sentence": q.sentence,
                        "duration": q.duration,
                        "moment": [round(float(x), 6) for x in predictions["moment"][k]],
                        "predicted": [round(float(x), 6) for x in predictions["predicted"][k]],
                        "centre": round(float(predictions["centre"][k]), 6),
                        "width": round(float(predictions["width"][k]), 6),
                        "iou": round(float(ious[k]), 6),
                    }
                )
                + "\n"
            )


def read_predictions(path) -> list[dict]:
    """The records written by :func:`save_predictions`."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def centre_histogram(records: list[dict], bins: int = 20) -> dict:
    """Predicted against true moment centres of prediction ``records`` as a 2-D histogram (counts in ``bins``
    x ``bins`` cells, no per-query rows: numbers only) and their Pearson correlation."""
    truth = np.array([sum(r["moment"]) / 2 for r in records])
    predicted = np.array([r["centre"] for r in records])
    counts, _, _ = np.histogram2d(truth, predicted, bins=bins, range=[[0, 1], [0, 1]])
    return {
        "bins": bins,
        "axes": ["true centre", "predicted centre"],
        "queries": len(records),
        "counts": counts.astype(int).tolist(),
        "pearson_r": float(np.corrcoef(truth, predicted)[0, 1]),
    }
