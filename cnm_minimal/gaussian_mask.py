"""The Gaussian mask: where the mask generator thinks the moment is (chapter 3).

The mask generator ends in a linear head on its state ``h``: two numbers squashed by a sigmoid give the
centre ``c`` and the width ``w`` of the moment (the width scaled by ``max_width``, 0.45 on Charades-STA):

    (c, w~) = sigmoid(W h + b),    w = w~ * max_width.                              (paper Eq. 3)

Over the P = N // 4 proposal slots at ``t_i = i / (P - 1)`` the soft mask is

    m_i = exp(-alpha (t_i - c)^2 / max(w, 0.1)^2),                                   (paper Eq. 4, as coded)

with alpha = 5.5 on Charades-STA. As the authors' code does, the width is clamped at 0.1 inside the
Gaussian only, the peak is below 1 when ``c`` falls between slots (no renormalisation), and the slots
are a sub-sample of the N clips (``long(linspace(0, N - 1, P))``), not a pooling. At inference the
moment is ``[max(c - w/2, 0), min(c + w/2, 1)]`` with the unclamped width.

The paper's "w/o Gaussian" ablation (chapter 10) replaces the Gaussian by another shape with the same centre
and width; :func:`box_mask` is this book's reading of it (the paper does not say which shape), and
:func:`soft_mask` picks the shape a model is configured with.
"""

from __future__ import annotations

import torch
from torch import nn


class GaussianMaskHead(nn.Module):
    """``h [B, d] -> (centre [B], width [B])``: the last layer of the mask generator (Eq. 3)."""

    def __init__(self, hidden: int, max_width: float):
        super().__init__()
        self.fc = nn.Linear(hidden, 2)
        self.max_width = max_width

    def forward(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        centre, width = torch.sigmoid(self.fc(state)).unbind(dim=-1)
        return centre, width * self.max_width


def proposal_slots(num_clips: int) -> torch.Tensor:
    """Indices of the P = N // 4 clips kept as proposal slots: ``long(linspace(0, N - 1, P))``."""
    return torch.linspace(0, num_clips - 1, num_clips // 4).long()


def gaussian_mask(centre: torch.Tensor, width: torch.Tensor, num_slots: int, alpha: float) -> torch.Tensor:
    """``m [B, P]`` with ``m_i = exp(-alpha (t_i - c)^2 / max(w, 0.1)^2)`` on ``t_i = i / (P - 1)`` (Eq.
    4)."""
    grid = torch.linspace(0, 1, num_slots, device=centre.device, dtype=centre.dtype)
    spread = width.clamp(min=0.1).unsqueeze(-1)
    return torch.exp(-alpha * (grid - centre.unsqueeze(-1)) ** 2 / spread**2)


BOX_STEEPNESS = 25.0
"""How sharply the box of :func:`box_mask` rises and falls (per unit of normalised time)."""


def box_mask(centre: torch.Tensor, width: torch.Tensor, num_slots: int) -> torch.Tensor:
    """``m [B, P]``: a smooth box over ``[c - w/2, c + w/2]``, ``sigmoid(k (t - c + w/2)) sigmoid(k (c + w/2
    - t))``
    with the steepness ``k = 25`` and the width clamped at 0.1 as in Eq. 4 (the ablation of chapter 10)."""
    grid = torch.linspace(0, 1, num_slots, device=centre.device, dtype=centre.dtype)
    half = (width.clamp(min=0.1) / 2).unsqueeze(-1)
    return torch.sigmoid(BOX_STEEPNESS * (grid - centre.unsqueeze(-1) + half)) * torch.sigmoid(
        BOX_STEEPNESS * (centre.unsqueeze(-1) + half - grid)
    )


def soft_mask(
    centre: torch.Tensor, width: torch.Tensor, num_slots: int, alpha: float, shape: str = "gaussian"
) -> torch.Tensor:
    """The mask of a model: :func:`gaussian_mask` (CNM) or, for the ablation, :func:`box_mask`
    (``shape="box"``)."""
    if shape == "gaussian":
        return gaussian_mask(centre, width, num_slots, alpha)
    if shape == "box":
        return box_mask(centre, width, num_slots)
    raise ValueError(f"unknown mask shape {shape!r}: use 'gaussian' or 'box'")


def predict_segment(centre: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """The predicted moment ``[max(c - w/2, 0), min(c + w/2, 1)]``, shape ``[B, 2]`` (inference)."""
    return torch.stack([(centre - width / 2).clamp(min=0.0), (centre + width / 2).clamp(max=1.0)], dim=-1)
