"""Contrastive negative sample mining: one positive and two negatives from one video (chapter 4).

CNM never looks at other videos for negatives. From the Gaussian mask ``m`` over the proposal slots of
the *same* video it builds three samples, each a weighting of the clips that the reconstructor may
attend to (paper Section 3.2):

* the **positive** sample keeps the clips the mask highlights: weights ``m``;
* the **hard negative** keeps the whole video: weights all ones. It contains the moment, but also
  everything that could confuse (another event with the same objects): a good mask must explain the
  sentence better than the whole video does;
* the **easy negative** keeps the clips the mask suppresses: weights ``1 - m`` (the rest of the video,
  which usually shows other things).

All ones is exactly "no mask": mask-conditioned attention (chapter 5) with ``m = 1`` re-weights every key
by the same ``1 + 1e-10`` and renormalises, which gives ordinary attention back. The ablations of chapter
10 leave out one negative or both (``hard=False``, ``easy=False``).
"""

from __future__ import annotations

import torch

SAMPLE_NAMES = ("positive", "hard", "easy")


def mine_samples(mask: torch.Tensor, hard: bool = True, easy: bool = True) -> dict[str, torch.Tensor]:
    """The clip weightings ``[B, P]`` of a mask: ``positive`` ``m``, ``hard`` all ones, ``easy`` ``1 - m``
    (a negative left out by an ablation is absent from the dict)."""
    samples = {"positive": mask}
    if hard:
        samples["hard"] = torch.ones_like(mask)
    if easy:
        samples["easy"] = 1.0 - mask
    return samples


def stack_samples(samples: dict[str, torch.Tensor]) -> torch.Tensor:
    """``[kB, P]``: the k weightings one under the other, to run the k reconstructions in one batched pass."""
    return torch.cat(list(samples.values()), dim=0)
