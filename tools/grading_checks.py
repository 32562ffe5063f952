"""The grading checks of the book's graded exercises, one function per exercise (used by ``make grade`` and CI).

A check receives the function the student wrote and raises ``AssertionError`` with a message meant for the
student when the answer is wrong. Checks compare with the package's own implementation where there is one,
on inputs the student has not seen. Instructors who want checks students cannot read keep their own file of
the same shape outside the students' copy and pass it with ``tools/grade.py --checks FILE``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch


@dataclass(frozen=True)
class Exercise:
    chapter: str                      # the notebook's name without .ipynb
    number: int                       # its number in the chapter's list of exercises
    name: str                         # the function the student writes
    points: int
    check: Callable[[Callable], None]


def _close(got, expected, what: str, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    got_t = torch.as_tensor(got)
    expected_t = torch.as_tensor(expected, dtype=got_t.dtype if got_t.is_floating_point() else None)
    assert tuple(got_t.shape) == tuple(expected_t.shape), (
        f"{what}: the result has shape {tuple(got_t.shape)}, expected {tuple(expected_t.shape)}")
    if not torch.allclose(got_t.double(), expected_t.double(), rtol=rtol, atol=atol):
        worst = (got_t.double() - expected_t.double()).abs().max().item()
        raise AssertionError(f"{what}: the values differ from the expected ones (largest difference {worst:.3g})")


# -- chapter 1 ----------------------------------------------------------------------------------------------
def check_best_constant_window(best_constant_window) -> None:
    from cnm_minimal import baselines, metrics

    rng = np.random.default_rng(7)
    starts = rng.uniform(0, 0.5, 60)
    train = np.stack([starts, np.minimum(starts + rng.uniform(0.1, 0.5, 60), 1.0)], axis=1)
    got = np.asarray(best_constant_window(train, step=0.05), dtype=float).reshape(-1)
    assert got.shape == (2,), f"best_constant_window should return one window [a, b], got {got.tolist()}"
    assert 0 <= got[0] < got[1] <= 1, f"the window {got.tolist()} is not inside [0, 1] with a < b"
    expected = baselines.best_constant_window(train, step=0.05)
    score = metrics.temporal_iou(np.repeat(got[None], len(train), 0), train).mean()
    best = metrics.temporal_iou(np.repeat(np.asarray(expected)[None], len(train), 0), train).mean()
    assert score >= best - 1e-9, (
        f"your window {np.round(got, 3).tolist()} has mean training IoU {score:.4f}, but the grid with step 0.05 has "
        f"a window with {best:.4f}: did you try every a < b on the grid, ends included?")


# -- chapters 3 to 8: the components -----------------------------------------------------------------------
def check_half_height_width(half_height_width) -> None:
    from cnm_minimal.gaussian_mask import gaussian_mask

    for w, alpha in ((0.2, 5.5), (0.45, 5.5), (0.3, 2.0), (0.05, 5.5)):
        grid = torch.linspace(0, 1, 100001, dtype=torch.float64)
        m = gaussian_mask(torch.tensor([0.5], dtype=torch.float64), torch.tensor([w], dtype=torch.float64),
                          len(grid), alpha)[0]
        numeric = float((m >= 0.5).double().sum() / (len(grid) - 1))
        got = float(half_height_width(w, alpha))
        hint = " Remember that the mask clamps the width at 0.1." if w < 0.1 else ""
        assert abs(got - numeric) < 1e-4, (
            f"half_height_width({w}, {alpha}) returned {got:.5f}; measured on a fine grid it is {numeric:.5f}.{hint}")


def check_weighted_summary(weighted_summary) -> None:
    generator = torch.Generator().manual_seed(4)
    features, weights = torch.randn(3, 7, 5, generator=generator), torch.rand(3, 7, generator=generator)
    expected = torch.einsum("bp,bpd->bd", weights, features) / weights.sum(1, keepdim=True)
    _close(weighted_summary(features, weights), expected, "weighted_summary(features, weights)")
    _close(weighted_summary(features, None), features.mean(1),
           "weighted_summary(features, None) (the hard negative: every clip counts the same)")


def check_masked_attention_weights(masked_attention_weights) -> None:
    from cnm_minimal.attention import mask_conditioned_softmax

    generator = torch.Generator().manual_seed(5)
    scores = torch.randn(2, 3, 4, 6, dtype=torch.float64, generator=generator)
    m = torch.rand(2, 6, dtype=torch.float64, generator=generator)
    m[1, :3] = 0.0
    got = masked_attention_weights(scores, m)
    _close(got.sum(-1), torch.ones(2, 3, 4, dtype=torch.float64), "each row of your weights should sum to 1")
    _close(got, mask_conditioned_softmax(scores, m), "masked_attention_weights (a mask with zeros included)")


def check_smoothed_token_loss(smoothed_token_loss) -> None:
    from cnm_minimal.reconstruction import label_smoothed_nll

    logits = torch.randn(9, generator=torch.Generator().manual_seed(6))
    for target in (0, 4, 8):
        expected = float(label_smoothed_nll(logits[None, None], torch.tensor([[target]]), torch.ones(1, 1), eps=0.1)[0])
        got = float(smoothed_token_loss(torch.log_softmax(logits, 0), target, 0.1))
        assert math.isclose(got, expected, rel_tol=1e-5), (
            f"smoothed_token_loss(log_p, {target}, 0.1) returned {got:.6f}, expected {expected:.6f}: the smoothing "
            "term averages -log p over all V classes, the target's included")


def check_ivc_terms(ivc_terms) -> None:
    from cnm_minimal.losses import ivc_loss

    generator = torch.Generator().manual_seed(7)
    p, h, e = (torch.rand(6, generator=generator) * 3 for _ in range(3))
    result = ivc_terms(p, h, e, 0.1, 0.15)
    assert isinstance(result, tuple) and len(result) == 2, "ivc_terms should return two tensors: (hard, easy)"
    hard, easy = result
    _close(hard, torch.clamp(p - h + 0.1, min=0), "the hard-negative hinges max(L^p - L^h + beta1, 0)")
    _close(easy, torch.clamp(p - e + 0.15, min=0), "the easy-negative hinges max(L^p - L^e + beta2, 0)")
    _close(hard.mean() + easy.mean(), ivc_loss(p, h, e, 0.1, 0.15), "their means should add up to L_IVC")


def check_three_separate_passes(three_separate_passes) -> None:
    from cnm_minimal.model import CNM, CNMConfig
    from cnm_minimal.negatives import mine_samples, stack_samples

    torch.manual_seed(8)
    model = CNM(CNMConfig(frame_dim=8, word_dim=6, vocab_size=11, hidden=16, heads=2, video_layers=1,
                          query_layers=1, dropout=0.0)).eval()
    slots, sentence = torch.randn(3, 5, 16), torch.randn(3, 4, 16)
    padding = torch.tensor([[False] * 4, [False] * 3 + [True], [False] * 2 + [True] * 2])
    mask = torch.rand(3, 5)
    with torch.no_grad():
        batched = model.reconstruct(slots.repeat(3, 1, 1), sentence.repeat(3, 1, 1), padding.repeat(3, 1),
                                    stack_samples(mine_samples(mask))).split(3)
        separate = three_separate_passes(model, slots, sentence, padding, mask)
    assert len(separate) == 3, "three_separate_passes should return three tensors: positive, hard, easy"
    for name, got, expected in zip(("positive", "hard", "easy"), separate, batched):
        _close(got, expected, f"the {name} logits", rtol=1e-5, atol=1e-5)


# -- chapter 9 ----------------------------------------------------------------------------------------------
def check_clip_width_predictions(clip_width_predictions) -> None:
    records = [{"vid": "a", "centre": 0.3, "width": 0.45, "predicted": [0.075, 0.525], "moment": [0.2, 0.4]},
               {"vid": "b", "centre": 0.75, "width": 0.4, "predicted": [0.55, 0.95], "moment": [0.5, 0.9]},
               {"vid": "c", "centre": 0.1, "width": 0.45, "predicted": [0.0, 0.325], "moment": [0.0, 0.3]}]
    got = np.asarray(clip_width_predictions(records, 0.3), dtype=float)
    centres = np.array([0.3, 0.75, 0.1])
    expected = np.stack([np.maximum(centres - 0.15, 0), np.minimum(centres + 0.15, 1)], axis=1)
    assert got.shape == (3, 2), f"clip_width_predictions should return one [start, end] per record, got shape {got.shape}"
    assert np.allclose(got, expected, atol=1e-9), (
        f"with width 0.3 expected {expected.round(3).tolist()}, got {got.round(3).tolist()}: keep each centre, "
        "and clip the window to [0, 1] as the model's inference does")


EXERCISES = [
    Exercise("01_the_task", 3, "best_constant_window", 1, check_best_constant_window),
    Exercise("03_gaussian_mask", 2, "half_height_width", 1, check_half_height_width),
    Exercise("04_negative_mining", 2, "weighted_summary", 1, check_weighted_summary),
    Exercise("05_attention", 2, "masked_attention_weights", 1, check_masked_attention_weights),
    Exercise("06_masked_reconstruction", 2, "smoothed_token_loss", 1, check_smoothed_token_loss),
    Exercise("07_ivc_loss", 2, "ivc_terms", 1, check_ivc_terms),
    Exercise("08_assembly", 2, "three_separate_passes", 1, check_three_separate_passes),
    Exercise("09_training", 3, "clip_width_predictions", 1, check_clip_width_predictions),
]


def exercises_for(chapter: str, exercises: list[Exercise] = EXERCISES) -> list[Exercise]:
    return [e for e in exercises if e.chapter == chapter]
