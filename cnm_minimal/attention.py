"""Mask-conditioned attention and the transformer decoder built on it (chapter 5).

Multi-head attention, written out: queries, keys and values are linear projections of the inputs
(packed in one ``in_proj_weight`` of shape ``[3d, d]``, rows q, k, v, as the authors' fairseq-style
code and ``torch.nn.MultiheadAttention`` store them), split into H heads of size d/H, and

    A = Q K^T / sqrt(d/H) + B,          a = softmax(A)                                 (Eq. 5)

where B is an additive bias: ``-inf`` above the diagonal for causal self-attention (a position sees
itself and the past), and a very negative number (``-1e30``) on padded keys. CNM conditions attention
on a mask ``m`` over the keys (the Gaussian of chapter 3, the same for every head and every query):

    a'_ij = a_ij (m_j + 1e-10) / sum_k a_ik (m_k + 1e-10)                               (Eq. 6, as coded)

Because ``a_ij = exp(A_ij) / Z_i``, this is exactly ``softmax(A + log(m + 1e-10))``: the mask is one more
additive bias. The from-scratch path computes Eq. 6 literally; the fast path hands the summed bias to
``torch.nn.functional.scaled_dot_product_attention``. Both are tested equal; each attention module has a
``fast`` attribute, and :func:`set_attention_path` switches a whole model to one path.

The decoder layer is post-LayerNorm, as in the authors' code: self-attention, then (if a memory is
given) cross-attention to it, then a feed-forward network of width 2d, each with dropout on its output,
a residual connection and a LayerNorm. Every self-attention is causal.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cnm_minimal.dropout import Dropout

MASK_EPS = 1e-10
"""Added to the mask before weighting, so that a zero mask never zeroes a whole attention row."""
PADDING_BIAS = -1e30
"""Bias on padded keys (a large negative number, not -inf, as in the authors' code)."""


def attention_bias(
    num_queries: int,
    num_keys: int,
    key_padding: torch.Tensor | None = None,
    causal: bool = False,
    key_weights: torch.Tensor | None = None,
    dtype: torch.dtype = torch.float32,
    device=None,
) -> torch.Tensor:
    """The additive bias ``B`` of Eq. 5, shape ``[B or 1, 1, T, S]``, with ``log(m + 1e-10)`` if
    ``key_weights``.

    ``key_padding`` is ``[B, S]``, True on padded keys; ``key_weights`` is ``[B, S]``, the mask m over the
    keys.
    """
    bias = torch.zeros(1, 1, num_queries, num_keys, dtype=dtype, device=device)
    if causal:
        future = torch.ones(num_queries, num_keys, dtype=torch.bool, device=device).triu(1)
        bias = bias.masked_fill(future, float("-inf"))
    if key_padding is not None:
        bias = bias.masked_fill(key_padding[:, None, None, :], PADDING_BIAS)
    if key_weights is not None:
        bias = bias + torch.log(key_weights + MASK_EPS)[:, None, None, :].to(dtype)
    return bias


def mask_conditioned_softmax(scores: torch.Tensor, key_weights: torch.Tensor | None) -> torch.Tensor:
    """Eq. 6 literally: ``softmax(scores)`` re-weighted by ``m + 1e-10`` over the keys and renormalised."""
    weights = torch.softmax(scores, dim=-1)
    if key_weights is None:
        return weights
    weights = weights * (key_weights + MASK_EPS)[:, None, None, :]
    return weights / weights.sum(dim=-1, keepdim=True)


class MultiheadAttention(nn.Module):
    """Multi-head attention with an optional mask over the keys (Eq. 5-6); batch-first ``[B, T, d]``."""

    def __init__(self, dim: int, heads: int, fast: bool = True):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by {heads} heads")
        self.dim, self.heads, self.fast = dim, heads, fast
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.xavier_uniform_(self.out_proj.weight)
        nn.init.zeros_(self.out_proj.bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, d] -> [B, H, T, d/H]``."""
        return x.unflatten(-1, (self.heads, self.dim // self.heads)).transpose(1, 2)

    def _project(self, query: torch.Tensor, key_value: torch.Tensor) -> list[torch.Tensor]:
        """Queries, keys and values split into heads, with as few matrix products as possible: one for all
        three in self-attention (``key_value is query``), else one for q and one for k and v together."""
        w, b, d = self.in_proj_weight, self.in_proj_bias, self.dim
        if key_value is query:
            qkv = F.linear(query, w, b).chunk(3, dim=-1)
        else:
            qkv = (F.linear(query, w[:d], b[:d]), *F.linear(key_value, w[d:], b[d:]).chunk(2, dim=-1))
        return [self._split_heads(x) for x in qkv]

    def forward(
        self,
        query: torch.Tensor,
        key_value: torch.Tensor,
        key_padding: torch.Tensor | None = None,
        causal: bool = False,
        key_weights: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``query [B, T, d]`` to ``key_value [B, S, d]``, the keys weighted by ``key_weights [B,
        S]`` (the mask m); returns the output and, on the from-scratch path (``fast`` False), the attention
        weights ``[B, H, T, S]``."""
        q, k, v = self._project(query, key_value)
        if self.fast:
            if causal and key_padding is None and key_weights is None and q.shape[2] == k.shape[2]:
                # plain causal attention (the mask generator's clips): the kernel skips the future by itself
                out, weights = F.scaled_dot_product_attention(q, k, v, is_causal=True), None
            else:
                bias = attention_bias(
                    q.shape[2], k.shape[2], key_padding, causal, key_weights, q.dtype, q.device
                )
                out, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=bias), None
        else:
            structure = attention_bias(q.shape[2], k.shape[2], key_padding, causal, None, q.dtype, q.device)
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) + structure
            weights = mask_conditioned_softmax(scores, key_weights)
            out = weights @ v
        return self.out_proj(out.transpose(1, 2).flatten(2)), weights


class DecoderLayer(nn.Module):
    """Post-LN layer: causal self-attention, optional cross-attention to a memory, FFN of width 2d."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.self_attn = MultiheadAttention(dim, heads)
        self.self_attn_norm = nn.LayerNorm(dim)
        self.cross_attn = MultiheadAttention(dim, heads)
        self.cross_attn_norm = nn.LayerNorm(dim)
        self.ffn_in = nn.Linear(dim, 2 * dim)
        self.ffn_out = nn.Linear(2 * dim, dim)
        self.ffn_norm = nn.LayerNorm(dim)
        self.dropout = Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        padding: torch.Tensor | None = None,
        memory: torch.Tensor | None = None,
        memory_padding: torch.Tensor | None = None,
        self_weights: torch.Tensor | None = None,
        memory_weights: torch.Tensor | None = None,
        last_only: bool = False,
    ) -> torch.Tensor:
        """``self_weights`` (a mask m) weights this sequence's own keys, ``memory_weights`` the memory's keys.

        ``last_only`` computes the output of the last position alone (``[B, 1, d]``): under the causal mask
        the last position sees every key, so its result is the same, for a fraction of the work."""
        query = x[:, -1:] if last_only else x
        attended, _ = self.self_attn(query, x, padding, causal=not last_only, key_weights=self_weights)
        x = self.self_attn_norm(query + self.dropout(attended))
        if memory is not None:
            attended, _ = self.cross_attn(x, memory, memory_padding, key_weights=memory_weights)
            x = self.cross_attn_norm(x + self.dropout(attended))
        hidden = self.ffn_out(F.relu(self.ffn_in(x)))  # no dropout inside the FFN, as in the authors' code
        return self.ffn_norm(x + self.dropout(hidden))


class Decoder(nn.Module):
    """A stack of :class:`DecoderLayer`; the same arguments reach every layer.

    ``last_only=True`` returns only the last position's output ``[B, 1, d]``, computing the last layer for
    that position alone (the mask generator needs nothing else)."""

    def __init__(self, num_layers: int, dim: int, heads: int, dropout: float):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, dropout) for _ in range(num_layers))

    def forward(self, x: torch.Tensor, last_only: bool = False, **kwargs) -> torch.Tensor:
        for k, layer in enumerate(self.layers):
            x = layer(x, last_only=last_only and k == len(self.layers) - 1, **kwargs)
        return x


def set_attention_path(module: nn.Module, fast: bool) -> None:
    """Switch every :class:`MultiheadAttention` inside ``module`` to the fast path or the from-scratch one."""
    for m in module.modules():
        if isinstance(m, MultiheadAttention):
            m.fast = fast
