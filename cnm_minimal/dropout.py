"""A faster dropout for the CPU (chapter 9, section on speed): the same distribution as torch's.

Dropout zeroes each element with probability ``p`` and scales the others by ``1 / (1 - p)``. On the CPU,
``torch.nn.functional.dropout`` draws one double per element, and on two cores that was about a quarter of a
CNM training step. This module draws one random 31-bit integer per element instead and compares it with
``p * 2^31``: the same distribution, up to ``p`` rounded to a multiple of 2^-31, about twice as fast. On
other devices (CUDA) it is ``torch.nn.functional.dropout``. Nothing else of CNM depends on it: swapping it
for ``nn.Dropout`` changes the random numbers, not the method.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _Dropout(torch.autograd.Function):
    """Inverted dropout with one 31-bit random integer per element (see :func:`dropout`)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, p: float) -> torch.Tensor:
        drop = torch.empty(x.shape, dtype=torch.int32, device=x.device).random_() < round(p * 2**31)
        ctx.save_for_backward(drop)
        ctx.scale = 1.0 / (1.0 - p)
        return x.masked_fill(drop, 0.0).mul_(ctx.scale)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (drop,) = ctx.saved_tensors
        return grad.masked_fill(drop, 0.0).mul_(ctx.scale), None


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the others by ``1 / (1 - p)``
    (on the CPU with one 31-bit integer per element, elsewhere ``F.dropout``)."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, training=True)
    return _Dropout.apply(x, p)


class Dropout(nn.Module):
    """:func:`dropout` as a module (active in ``train()`` mode only), a drop-in for ``nn.Dropout``."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)
