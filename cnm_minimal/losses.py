"""The losses: reconstruction and the intra-video contrastive (IVC) loss (chapter 7).

Given the per-sentence reconstruction losses of the three samples (chapter 6) — the positive ``L^p``
(clips weighted by the mask m), the hard negative ``L^h`` (the whole video) and the easy negative
``L^e`` (clips weighted by 1 - m) — averaged over the batch:

    L_rec = mean(L^p) + mean(L^h)                                                       (Eq. 8)
    L_IVC = mean(max(L^p - L^h + beta1, 0)) + mean(max(L^p - L^e + beta2, 0))            (Eq. 9)

with beta1 = 0.1, beta2 = 0.15. L_rec teaches the reconstructor to use the clips at all; L_IVC asks the
positive to reconstruct better than the whole video by a margin beta1, and better than the rest of the
video by a larger margin beta2. The trainer minimises L_rec with the reconstructor's parameters and
L_IVC with the mask generator's, alternately (chapter 9).
"""

from __future__ import annotations

import torch


def reconstruction_loss(nll_positive: torch.Tensor, nll_hard: torch.Tensor) -> torch.Tensor:
    """Eq. 8: ``mean(L^p) + mean(L^h)``."""
    return nll_positive.mean() + nll_hard.mean()


def ivc_loss(nll_positive: torch.Tensor, nll_hard: torch.Tensor, nll_easy: torch.Tensor,
             beta1: float = 0.1, beta2: float = 0.15) -> torch.Tensor:
    """Eq. 9: the two hinges, against the hard negative (margin beta1) and the easy negative (beta2)."""
    hard = torch.clamp(nll_positive - nll_hard + beta1, min=0.0)
    easy = torch.clamp(nll_positive - nll_easy + beta2, min=0.0)
    return hard.mean() + easy.mean()
