"""The losses: reconstruction and the intra-video contrastive (IVC) loss (chapter 7).

Given the per-sentence reconstruction losses of the three samples (chapter 6) — the positive ``L^p``
(clips weighted by the mask m), the hard negative ``L^h`` (the whole video) and the easy negative
``L^e`` (clips weighted by 1 - m) — averaged over the batch:

    L_rec = mean(L^p) + mean(L^h)                                                       (Eq. 8)
    L_IVC = mean(max(L^p - L^h + beta1, 0)) + mean(max(L^p - L^e + beta2, 0))            (Eq. 9)

with beta1 = 0.1, beta2 = 0.15. L_rec teaches the reconstructor to use the clips at all; L_IVC asks the
positive to reconstruct better than the whole video by a margin beta1, and better than the rest of the
video by a larger margin beta2. In the alternating scheme (chapter 9) L_rec trains the reconstructor and,
through the mask, the generator's transformer; L_IVC trains only the Gaussian head.

The ablations of chapter 10 leave a negative out (its loss is ``None``): its term disappears from both
losses; with neither negative, L_IVC falls back to ``mean(L^p)``, as the authors' code does.
"""

from __future__ import annotations

import torch


def reconstruction_loss(nll_positive: torch.Tensor, nll_hard: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 8: ``mean(L^p) + mean(L^h)`` (``mean(L^p)`` alone without the hard negative)."""
    loss = nll_positive.mean()
    return loss if nll_hard is None else loss + nll_hard.mean()


def hinge(nll_positive: torch.Tensor, nll_negative: torch.Tensor, margin: float) -> torch.Tensor:
    """``mean(max(L^p - L^n + margin, 0))``: zero once the positive reconstructs better by ``margin``."""
    return torch.clamp(nll_positive - nll_negative + margin, min=0.0).mean()


def ivc_loss(
    nll_positive: torch.Tensor,
    nll_hard: torch.Tensor | None = None,
    nll_easy: torch.Tensor | None = None,
    beta1: float = 0.1,
    beta2: float = 0.15,
) -> torch.Tensor:
    """Eq. 9: the hinges against the hard negative (margin beta1) and the easy negative (beta2) that are
    given."""
    hinges = [
        hinge(nll_positive, negative, margin)
        for negative, margin in ((nll_hard, beta1), (nll_easy, beta2))
        if negative is not None
    ]
    return sum(hinges) if hinges else nll_positive.mean()
