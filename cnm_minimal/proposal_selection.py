"""Which of the K proposals is the answer: the lowest reconstruction loss, or a vote (CPL, chapter 12).

CPL has no score head: at inference the reconstructor runs on every proposal (words masked as in training) and
the answer is the proposal that rebuilds the query best, ``argmin_k L^p_k``. The vote variant of the authors'
code lets the proposals agree instead: with ``c_j = IoU(p_best, p_j)``, the overlap of proposal j with the
lowest-loss one,

    score_i = sum_j IoU(p_i, p_j) c_j,    answer = argmax_i score_i,                          (Eq. 12.8)

so a proposal wins when it overlaps the proposals that overlap the best one.
"""

from __future__ import annotations

import torch

from cnm_minimal.metrics import interval_iou


def pairwise_iou(segments: torch.Tensor) -> torch.Tensor:
    """``[B, K, K]`` temporal IoU between the K segments ``[B, K, 2]`` of each query (the benchmark's
    formula)."""
    start, end = segments[..., 0], segments[..., 1]
    return interval_iou(start[:, :, None], end[:, :, None], start[:, None, :], end[:, None, :])


def select_lowest_loss(nll_positive: torch.Tensor) -> torch.Tensor:
    """``[B]``: the proposal with the lowest reconstruction loss (``nll_positive [B, K]``)."""
    return nll_positive.argmin(dim=-1)


def select_by_vote(segments: torch.Tensor, nll_positive: torch.Tensor) -> torch.Tensor:
    """``[B]``: the proposal with the highest vote (Eq. 12.8)."""
    iou = pairwise_iou(segments)
    best = select_lowest_loss(nll_positive)
    weights = iou.gather(1, best[:, None, None].expand(-1, 1, iou.shape[2])).squeeze(1)  # c_j, [B, K]
    return (iou * weights[:, None, :]).sum(dim=-1).argmax(dim=-1)
