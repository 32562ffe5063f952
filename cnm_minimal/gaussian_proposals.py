"""Gaussian proposals: K candidate moments per query from one head (CPL, chapter 12).

CPL (Zheng et al., CVPR 2022) keeps CNM's transformer but lets the mask generator propose K moments at once.
A learned token is appended after the N clips; the video decoder's state at that token, ``h``, goes through
one linear layer with 2K outputs, squashed by a sigmoid (no ``max_width`` here, unlike CNM's Eq. 3):

    (c_1, w_1, ..., c_K, w_K) = sigmoid(W h + b).                                       (Eq. 12.1)

Each proposal k becomes a Gaussian over the P proposal slots at ``t_i = i / (P - 1)``, normalised so that its
largest value on the grid is 1:

    g_k(t) = exp(-(t - c_k)^2 / (2 s_k^2)),   s_k = max(w_k, 0.01) / sigma,   m_k = g_k / max_i g_k(t_i)
    (Eq. 12.2)

with sigma = 9 on Charades-STA: the Gaussian's standard deviation is a ninth of the width, i.e. ``exp(-40.5 (t
- c)^2 / w^2)``, a narrower bell than CNM's ``exp(-5.5 (t - c)^2 / w^2)``. The moment of a proposal is read
exactly as CNM's: ``[max(c - w/2, 0), min(c + w/2, 1)]`` (:func:`cnm_minimal.gaussian_mask.predict_segment`).
"""

from __future__ import annotations

import torch
from torch import nn

MIN_WIDTH = 0.01
"""The smallest width inside the Gaussian (the authors' clamp), so that no proposal becomes a spike of zero
width."""


class ProposalHead(nn.Module):
    """``h [B, d] -> (centres [B, K], widths [B, K])``: K proposals from one linear layer (Eq. 12.1)."""

    def __init__(self, hidden: int, num_proposals: int):
        super().__init__()
        self.fc = nn.Linear(hidden, 2 * num_proposals)
        self.num_proposals = num_proposals

    def forward(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        params = torch.sigmoid(self.fc(state)).view(state.shape[0], self.num_proposals, 2)
        return params[..., 0], params[..., 1]


def normalised_gaussian(centre: torch.Tensor, std: torch.Tensor, num_slots: int) -> torch.Tensor:
    """``exp(-(t - c)^2 / (2 std^2))`` on ``t_i = i / (P - 1)``, divided by its maximum over the grid; any
    leading shape: ``centre`` and ``std`` ``[...]`` give ``[..., P]``."""
    grid = torch.linspace(0, 1, num_slots, device=centre.device, dtype=centre.dtype)
    bell = torch.exp(-((grid - centre.unsqueeze(-1)) ** 2) / (2 * std.unsqueeze(-1) ** 2))
    return bell / bell.amax(dim=-1, keepdim=True)


def proposal_masks(centre: torch.Tensor, width: torch.Tensor, num_slots: int, sigma: float) -> torch.Tensor:
    """The masks ``m_k [B, K, P]`` of the proposals (Eq. 12.2): std ``max(w, 0.01) / sigma``."""
    return normalised_gaussian(centre, width.clamp(min=MIN_WIDTH) / sigma, num_slots)
