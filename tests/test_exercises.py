"""Grading checks of the chapters' coding exercises, run against the solutions in the notebooks.

Each chapter's graded exercise lives in a code cell tagged ``exercise``, with the solution between
``# BEGIN SOLUTION`` and ``# END SOLUTION``. Here the cell is executed on its own and the function it
defines is checked against the package; the classroom tooling runs the same checks on students' work.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

BOOK = Path(__file__).resolve().parents[1] / "book"


def exercise_namespace(notebook: str) -> dict:
    """Run the notebook's ``exercise`` cells (and nothing else) and return what they define."""
    cells = json.loads((BOOK / notebook).read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells
               if c["cell_type"] == "code" and "exercise" in c["metadata"].get("tags", [])]
    assert sources, f"{notebook} has no cell tagged 'exercise'"
    namespace: dict = {}
    for source in sources:
        assert "# BEGIN SOLUTION" in source and "# END SOLUTION" in source
        exec(compile(source, f"{notebook}:exercise", "exec"), namespace)
    return namespace


def check_half_height_width(half_height_width):
    from cnm_minimal.gaussian_mask import gaussian_mask

    for w, alpha in ((0.2, 5.5), (0.45, 5.5), (0.3, 2.0), (0.05, 5.5)):
        grid = torch.linspace(0, 1, 100001, dtype=torch.float64)
        m = gaussian_mask(torch.tensor([0.5], dtype=torch.float64), torch.tensor([w], dtype=torch.float64),
                          len(grid), alpha)[0]
        numeric = float((m >= 0.5).double().sum() / (len(grid) - 1))
        assert half_height_width(w, alpha) == pytest.approx(numeric, abs=1e-4), (w, alpha)


def check_weighted_summary(weighted_summary):
    features, weights = torch.randn(3, 7, 5), torch.rand(3, 7)
    expected = torch.einsum("bp,bpd->bd", weights, features) / weights.sum(1, keepdim=True)
    torch.testing.assert_close(weighted_summary(features, weights), expected)
    torch.testing.assert_close(weighted_summary(features, None), features.mean(1))
    torch.testing.assert_close(weighted_summary(features, torch.ones(3, 7)), features.mean(1))


def check_masked_attention_weights(masked_attention_weights):
    from cnm_minimal.attention import mask_conditioned_softmax

    scores, m = torch.randn(2, 3, 4, 6, dtype=torch.float64), torch.rand(2, 6, dtype=torch.float64)
    m[1, :3] = 0.0
    torch.testing.assert_close(masked_attention_weights(scores, m), mask_conditioned_softmax(scores, m))


def check_smoothed_token_loss(smoothed_token_loss):
    from cnm_minimal.reconstruction import label_smoothed_nll

    logits = torch.randn(9)
    for target in (0, 4, 8):
        expected = label_smoothed_nll(logits[None, None], torch.tensor([[target]]), torch.ones(1, 1), eps=0.1)[0]
        got = smoothed_token_loss(torch.log_softmax(logits, 0), target, 0.1)
        assert float(got) == pytest.approx(float(expected), rel=1e-5)


def check_ivc_terms(ivc_terms):
    from cnm_minimal.losses import ivc_loss

    p, h, e = torch.rand(6) * 3, torch.rand(6) * 3, torch.rand(6) * 3
    hard, easy = ivc_terms(p, h, e, 0.1, 0.15)
    assert hard.shape == easy.shape == (6,) and (hard >= 0).all() and (easy >= 0).all()
    torch.testing.assert_close(hard.mean() + easy.mean(), ivc_loss(p, h, e, 0.1, 0.15))
    torch.testing.assert_close(hard, torch.clamp(p - h + 0.1, min=0))


def check_three_separate_passes(three_separate_passes):
    from cnm_minimal.model import CNM, CNMConfig
    from cnm_minimal.negatives import mine_samples, stacked_weights

    model = CNM(CNMConfig(frame_dim=8, word_dim=6, vocab_size=11, hidden=16, heads=2, video_layers=1,
                          query_layers=1, dropout=0.0)).eval()
    slots, sentence = torch.randn(3, 5, 16), torch.randn(3, 4, 16)
    padding = torch.tensor([[False] * 4, [False] * 3 + [True], [False] * 2 + [True] * 2])
    mask = torch.rand(3, 5)
    with torch.no_grad():
        batched = model.reconstruct(slots.repeat(3, 1, 1), sentence.repeat(3, 1, 1), padding.repeat(3, 1),
                                    stacked_weights(mine_samples(mask))).split(3)
        separate = three_separate_passes(model, slots, sentence, padding, mask)
    assert len(separate) == 3
    for got, expected in zip(separate, batched):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


CHECKS = {
    "03_gaussian_mask.ipynb": ("half_height_width", check_half_height_width),
    "04_negative_mining.ipynb": ("weighted_summary", check_weighted_summary),
    "05_attention.ipynb": ("masked_attention_weights", check_masked_attention_weights),
    "06_masked_reconstruction.ipynb": ("smoothed_token_loss", check_smoothed_token_loss),
    "07_ivc_loss.ipynb": ("ivc_terms", check_ivc_terms),
    "08_assembly.ipynb": ("three_separate_passes", check_three_separate_passes),
}


@pytest.mark.parametrize("notebook", sorted(CHECKS))
def test_solution_passes_its_grading_check(notebook):
    name, check = CHECKS[notebook]
    check(exercise_namespace(notebook)[name])


def test_every_component_chapter_has_a_graded_exercise():
    chapters = sorted(p.name for p in BOOK.glob("0[3-8]_*.ipynb"))      # chapters 3-8: the components
    assert chapters and set(chapters) <= set(CHECKS)
