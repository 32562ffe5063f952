"""Contrastive proposal mining: the positive proposal and two scheduled negatives per proposal (CPL, chapter
12).

Where CNM contrasts its one mask with the rest of the video (``1 - m``) and the whole video, CPL mines, for
every proposal k:

* the **positive**: among the K proposals, the one that reconstructs the query best,
  ``k* = argmin_k L^p_k`` (:func:`best_proposal`); only it is pushed by the contrastive loss;
* two **negative proposals**, Gaussians placed in the parts of the video left and right of the proposal
  ``[c - w/2, c + w/2]``, which move from the video's ends towards the proposal as training goes on
  (easy to hard). With ``rho = min(e / E, 1)^gamma`` at epoch e of E (counted from 1), gamma = 0.5:

      left:  centre = width = rho * max(c - w/2, 0) / 2                                     (Eq. 12.3)
      right: centre = 1 - rho * max(1 - c - w/2, 0) / 2,   width = 1 - centre

  each a normalised Gaussian (Eq. 12.2) with std ``max(width, 0.01) / (sigma / 2)``: twice as wide as a
  proposal of the same width. At rho = 0 each negative is a narrow bell on the video's first or last slot; at
  rho = 1 it sits in the middle of the gap between the proposal and that end;
* the **hard negative** is CNM's: the whole video (all ones, one per query).
"""

from __future__ import annotations

import torch

from cnm_minimal.gaussian_proposals import MIN_WIDTH, normalised_gaussian


def negative_schedule(progress: float, gamma: float) -> float:
    """``rho = min(progress, 1)^gamma`` with ``progress = e / E`` (epoch e of E, counted from 1)."""
    return min(max(progress, 0.0), 1.0) ** gamma


def negative_proposals(
    centre: torch.Tensor, width: torch.Tensor, num_slots: int, sigma: float, rho: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The left and right negative masks ``[B, K, P]`` of every proposal (Eq. 12.3)."""
    left_centre = (centre - width / 2).clamp(min=0.0) * rho / 2
    right_centre = 1 - (1 - centre - width / 2).clamp(min=0.0) * rho / 2
    spread = sigma / 2
    left = normalised_gaussian(left_centre, left_centre.clamp(min=MIN_WIDTH) / spread, num_slots)
    right = normalised_gaussian(right_centre, (1 - right_centre).clamp(min=MIN_WIDTH) / spread, num_slots)
    return left, right


def best_proposal(nll_positive: torch.Tensor) -> torch.Tensor:
    """``k* [B]``: the proposal with the lowest reconstruction loss ``L^p_k`` (``[B, K]``)."""
    return nll_positive.argmin(dim=-1)


def at_proposal(values: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``values[b, k[b]]`` of ``values [B, K, ...]``: what belongs to each query's chosen proposal, ``[B,
    ...]``."""
    return values[torch.arange(len(k), device=k.device), k]
