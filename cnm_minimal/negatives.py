"""Contrastive negative sample mining: one positive and two negatives from one video (chapter 4).

CNM never looks at other videos for negatives. From the Gaussian mask ``m`` over the proposal slots of
the *same* video it builds three samples, each a weighting of the clips that the reconstructor may
attend to (paper Section 3.2):

* the **positive** sample keeps the clips the mask highlights: weights ``m``;
* the **easy negative** keeps the clips the mask suppresses: weights ``1 - m`` (the rest of the video,
  which usually shows other things);
* the **hard negative** keeps the whole video: no weighting at all. It contains the moment, but also
  everything that could confuse (another event with the same objects): a good mask must explain the
  sentence better than the whole video does.

A weighting of ``None`` means "no mask": the attention is left as it is (mask-conditioned attention
with ``m = 1`` is ordinary attention, chapter 5).
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class Samples(NamedTuple):
    """Clip weightings ``[B, P]`` of the three samples; ``hard`` is ``None``: the whole video, unweighted."""

    positive: torch.Tensor
    easy: torch.Tensor
    hard: None = None


def mine_samples(mask: torch.Tensor) -> Samples:
    """The positive ``m``, the easy negative ``1 - m`` and the hard negative (whole video) of a mask."""
    return Samples(positive=mask, easy=1.0 - mask, hard=None)


def stacked_weights(samples: Samples) -> torch.Tensor:
    """``[3B, P]``: positive, hard (all ones) and easy weights, to run the three reconstructions in one pass.

    All ones is exactly "no mask": ``softmax(A) * (1 + 1e-10)`` renormalised is ``softmax(A)``.
    """
    return torch.cat([samples.positive, torch.ones_like(samples.positive), samples.easy], dim=0)
