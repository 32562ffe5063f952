"""CPL's one objective: reconstruction, the ranking of the positive proposal, and diversity (CPL, chapter 12).

With the per-sentence reconstruction losses (chapter 6) of the K proposals ``L^p [B, K]``, of their left and
right negatives ``L^l, L^r [B, K]`` and of the whole video ``L^h [B]``, and the best proposal
``k* = argmin_k L^p_k`` of each query:

    L_rec  = (mean_b L^p_{k*} + mean_b L^h) / 2                                             (Eq. 12.4)
    L_rank = hinge(L^p_{k*}, L^h, m1) + hinge(L^p_{k*}, L^l_{k*}, m2) + hinge(L^p_{k*}, L^r_{k*}, m2)   (Eq.
    12.5)
    L_div  = mean_b || lambda I - G G^T ||_F^2,   G_k = m_k / sum_i m_k(t_i)                 (Eq. 12.6)
    L      = L_rec + alpha1 L_rank + alpha2 L_div                                           (Eq. 12.7)

with the hinge of CNM's IVC loss (:func:`cnm_minimal.losses.hinge`), m1 = 0.1, m2 = 0.15 (CNM's beta1 and
beta2), lambda = 0.146, alpha1 = 1, alpha2 = 5 on Charades-STA. L_div keeps the K proposals apart: the
overlap of two normalised masks, ``G_k . G_j``, is pushed to 0 and each one's ``|G_k|^2`` to lambda.
One optimiser minimises L; nothing alternates.
"""

from __future__ import annotations

import torch

from cnm_minimal.losses import hinge
from cnm_minimal.proposal_mining import at_proposal


def proposal_reconstruction_loss(nll_positive: torch.Tensor, nll_hard: torch.Tensor) -> torch.Tensor:
    """Eq. 12.4: the best proposal's loss and the whole video's, averaged."""
    return (nll_positive.min(dim=-1).values.mean() + nll_hard.mean()) / 2


def rank_loss(
    nll_positive: torch.Tensor,
    nll_hard: torch.Tensor,
    nll_left: torch.Tensor,
    nll_right: torch.Tensor,
    best: torch.Tensor,
    margin_hard: float = 0.1,
    margin_easy: float = 0.15,
) -> torch.Tensor:
    """Eq. 12.5: the best proposal ``best [B]`` against the whole video and against its own two negatives."""
    positive = at_proposal(nll_positive, best)
    return (
        hinge(positive, nll_hard, margin_hard)
        + hinge(positive, at_proposal(nll_left, best), margin_easy)
        + hinge(positive, at_proposal(nll_right, best), margin_easy)
    )


def diversity_loss(masks: torch.Tensor, lam: float = 0.146) -> torch.Tensor:
    """Eq. 12.6 over masks ``[B, K, P]``: how far the overlaps of the normalised masks are from ``lambda
    I``."""
    g = masks / masks.sum(dim=-1, keepdim=True)
    target = lam * torch.eye(masks.shape[1], device=masks.device, dtype=masks.dtype)
    return ((target - g @ g.transpose(1, 2)) ** 2).sum(dim=(1, 2)).mean()
