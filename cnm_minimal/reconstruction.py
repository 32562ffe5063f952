"""Masked reconstruction (semantic completion): rebuild the masked words from the clips (chapter 6).

The reconstructor learns what a sentence says about a video by filling in its blanks. Per sentence of
length l, ``n = max(floor(l / 3), 1)`` distinct words are hidden, each drawn with probability
``p = softmax(weights)`` over the sentence (weight 2 for content words, 1 for function words), and
replaced by a learned mask token (in the projected space). The words then go through the query decoder
with teacher forcing, *next-word* style, exactly as the authors' code does:

* input slots ``0..L-1``: the learned start token, then the (partly masked) words ``w_1..w_{L-1}``,
  each plus a sinusoidal position encoding (slot 0, the start token, gets none);
* the output at slot t predicts ``w_{t+1}``; at slot l it predicts the padding id 0, which acts as an
  end-of-sentence token, except for the longest sentence of the batch (its slot l does not exist);
* the loss is the label-smoothed negative log-likelihood (eps = 0.1) averaged over those l + 1 slots,

    l_t = (1 - eps) (-log p_t(y_t)) + (eps / V) sum_k (-log p_t(k)),    L = mean_t l_t.   (Eq. 7)

So every word is predicted, not only the hidden ones; hiding words makes the clips necessary.
"""

from __future__ import annotations

import math

import torch


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """``[length, dim]`` position encodings ``[sin(p w_k), cos(p w_k)]``, ``w_k = 10000^(-k / (dim/2 - 1))``;
    row 0 is zero (the start token has no position)."""
    half = dim // 2
    frequencies = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000) / (half - 1)))
    angles = torch.arange(length, dtype=torch.float32)[:, None] * frequencies[None, :]
    table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    if dim % 2:
        table = torch.cat([table, torch.zeros(length, 1)], dim=1)
    table[0] = 0.0
    return table


def choose_masked_words(
    weights: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Which word slots to mask: bool ``[B, L + 1]`` (slot 0, the start token, is never hidden).

    Per sentence, ``max(l // 3, 1)`` distinct positions among its l words with probabilities
    ``softmax(weights)``, drawn without replacement for the whole batch at once: adding Gumbel noise to
    the log-probabilities and keeping the top n is the same distribution as drawing one by one.
    ``generator`` is a CPU ``torch.Generator`` (the noise is drawn on the CPU, so runs reproduce on any
    device).
    """
    batch, longest = weights.shape
    valid = torch.arange(longest, device=weights.device)[None, :] < lengths[:, None]
    log_p = torch.log_softmax(weights.float().masked_fill(~valid, float("-inf")), dim=-1)
    uniform = torch.rand(batch, longest, generator=generator).to(weights.device).clamp(1e-12, 1.0)
    keys = (log_p - torch.log(-torch.log(uniform))).masked_fill(~valid, float("-inf"))
    rank = keys.argsort(dim=-1, descending=True).argsort(dim=-1)
    chosen = rank < (lengths // 3).clamp(min=1)[:, None]
    return torch.nn.functional.pad(chosen & valid, (1, 0))


def mask_words(words: torch.Tensor, masked: torch.Tensor, token: torch.Tensor) -> torch.Tensor:
    """Replace the ``masked`` slots (bool ``[B, L + 1]``) of ``words [B, L + 1, d]`` by the mask ``token
    [d]``."""
    return torch.where(masked[..., None], token.to(words.dtype), words)


def counted_slots(lengths: torch.Tensor, longest: int) -> torch.Tensor:
    """Slots counted in the loss, bool ``[B, L]``: ``t <= l`` (the l words and the end token at slot l)."""
    return torch.arange(longest, device=lengths.device)[None, :] <= lengths[:, None]


def label_smoothed_nll(
    logits: torch.Tensor, targets: torch.Tensor, counted: torch.Tensor, eps: float = 0.1
) -> torch.Tensor:
    """Eq. 7 per sentence, ``[B]``: the label-smoothed NLL averaged over the ``counted`` slots (bool ``[B,
    L]``)."""
    log_p = torch.log_softmax(logits, dim=-1)
    nll = -log_p.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    smooth = -log_p.sum(dim=-1)
    per_slot = (1 - eps) * nll + eps / logits.shape[-1] * smooth
    counted = counted.to(per_slot.dtype)
    return (per_slot * counted).sum(dim=-1) / counted.sum(dim=-1)
