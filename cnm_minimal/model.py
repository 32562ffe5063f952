"""CNM assembled: one dual-decoder transformer shared by the mask generator and the reconstructor (chapter 8).

Two decoders, a *video decoder* (the authors' ``decoder1``) and a *query decoder* (``decoder2``), are
used in two modes with the same weights:

* **mask generation** (the authors' ``decoding=1``): the query decoder encodes the sentence (causal
  self-attention); the video decoder runs over the N clips (causal self-attention) with cross-attention
  to that encoding; the state of the last clip goes through the Gaussian head (chapter 3);
* **reconstruction** (``decoding=2``): the video decoder encodes the P proposal slots with the mask on its
  keys; the query decoder reads the partly hidden sentence (causal) with cross-attention to that encoding,
  again with the mask on its keys; a linear layer predicts the next word (chapter 6).

Training runs reconstruction three times, for the positive, hard and easy samples (chapter 4), here in
one batched pass. Inference runs mask generation only and returns ``[c - w/2, c + w/2]`` clipped to [0, 1].
:func:`from_official_state_dict` loads the authors' parameter names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from cnm_minimal.attention import Decoder, Dropout
from cnm_minimal.gaussian_mask import GaussianMaskHead, gaussian_mask, predict_segment, proposal_slots
from cnm_minimal.losses import ivc_loss, reconstruction_loss
from cnm_minimal.negatives import mine_samples, stacked_weights
from cnm_minimal.reconstruction import (
    choose_masked_positions, label_smoothed_nll, mask_words, reconstruction_mask, sinusoidal_positions,
)


@dataclass(frozen=True)
class CNMConfig:
    """The model's sizes and the method's constants; defaults are the authors' Charades-STA I3D config."""

    frame_dim: int = 1024
    word_dim: int = 300
    vocab_size: int = 1112            # output classes V = kept words + 1 (padding / end token)
    hidden: int = 256
    heads: int = 4
    video_layers: int = 3             # decoder1
    query_layers: int = 3             # decoder2
    dropout: float = 0.1
    alpha: float = 5.5
    max_width: float = 0.45
    beta1: float = 0.1
    beta2: float = 0.15
    label_smoothing: float = 0.1
    max_words: int = 20
    clip_positions: bool = False      # probe (chapter 11), not in the authors' model: see generator_state


class CNMOutput(NamedTuple):
    centre: torch.Tensor               # [B]
    width: torch.Tensor                # [B]
    mask: torch.Tensor                 # [B, P] the Gaussian over the proposal slots
    logits_positive: torch.Tensor      # [B, L, V]
    logits_hard: torch.Tensor
    logits_easy: torch.Tensor
    masked_positions: torch.Tensor     # [B, L + 1] bool
    loss_mask: torch.Tensor            # [B, L] bool, the slots counted in the loss
    nll_positive: torch.Tensor         # [B]
    nll_hard: torch.Tensor
    nll_easy: torch.Tensor
    rec_loss: torch.Tensor             # scalar, Eq. 8
    ivc_loss: torch.Tensor             # scalar, Eq. 9


class CNM(nn.Module):
    def __init__(self, config: CNMConfig = CNMConfig()):
        super().__init__()
        self.config = c = config
        self.frame_proj = nn.Linear(c.frame_dim, c.hidden)
        self.word_proj = nn.Linear(c.word_dim, c.hidden)
        self.start_token = nn.Parameter(torch.zeros(c.word_dim))
        self.mask_token = nn.Parameter(torch.zeros(c.word_dim))
        self.video_decoder = Decoder(c.video_layers, c.hidden, c.heads, c.dropout)
        self.query_decoder = Decoder(c.query_layers, c.hidden, c.heads, c.dropout)
        self.word_head = nn.Linear(c.hidden, c.vocab_size)
        self.mask_head = GaussianMaskHead(c.hidden, c.max_width)
        self.input_dropout = Dropout(c.dropout)
        self.register_buffer("positions", sinusoidal_positions(c.max_words + 1, c.hidden), persistent=False)

    # -- the two modes ---------------------------------------------------------------------------------
    def embed(self, frames: torch.Tensor, words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Project clips ``[B, N, Df]`` and words ``[B, L + 1, Dw]`` (slot 0 becomes the start token)."""
        start = self.start_token.expand(words.shape[0], 1, -1)
        words = torch.cat([start, words[:, 1:]], dim=1)
        return self.frame_proj(self.input_dropout(frames)), self.word_proj(self.input_dropout(words))

    def generator_state(self, clips: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor,
                        fast: bool = True) -> torch.Tensor:
        """Mask generation up to the head: the state ``h [B, d]`` of the last clip.

        The authors' clips carry no position encoding; with ``clip_positions`` (the probe of chapter 11) clip i
        gets the sinusoidal encoding of position i + 1 here, in the mask generator only."""
        if self.config.clip_positions:
            clips = clips + sinusoidal_positions(clips.shape[1] + 1, clips.shape[2])[1:].to(clips)
        padding = ~reconstruction_mask(lengths, words.shape[1])          # slots 0..l are the start and the words
        query = self.query_decoder(words + self.positions[: words.shape[1]], padding=padding, fast=fast)
        return self.video_decoder(clips, memory=query, memory_padding=padding, fast=fast, last_only=True)[:, -1]

    def generate_mask(self, clips: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor,
                      fast: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask generation on projected inputs: ``(centre [B], width [B])``."""
        return self.mask_head(self.generator_state(clips, words, lengths, fast))

    def reconstruction_inputs(self, clips: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor,
                              longest: int, masked_positions: torch.Tensor | None = None,
                              weights: torch.Tensor | None = None, generator: torch.Generator | None = None):
        """Proposal slots ``[B, P, d]``, the hidden-word sentence ``[B, L, d]`` (positions added, last slot
        dropped), the loss mask ``[B, L]`` (its complement is the padding) and the hidden positions."""
        slots = clips[:, proposal_slots(clips.shape[1]).to(clips.device)]
        if masked_positions is None:
            masked_positions = choose_masked_positions(weights, lengths, generator)
        hidden = mask_words(words, masked_positions, self.word_proj(self.mask_token))
        sentence = (hidden + self.positions[: hidden.shape[1]])[:, :-1]
        return slots, sentence, reconstruction_mask(lengths, longest), masked_positions

    def reconstruct(self, slots: torch.Tensor, words: torch.Tensor, padding: torch.Tensor,
                    weights: torch.Tensor | None, fast: bool = True) -> torch.Tensor:
        """Reconstruction: next-word logits ``[B, L, V]`` from proposal slots weighted by ``weights``."""
        video = self.video_decoder(slots, self_mask=weights, fast=fast)
        out = self.query_decoder(words, padding=padding, memory=video, memory_mask=weights, fast=fast)
        return self.word_head(out)

    def sentence_losses(self, logits: torch.Tensor, word_ids: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
        """Label-smoothed NLL per sentence (chapter 6) of next-word ``logits``."""
        return label_smoothed_nll(logits, word_ids, loss_mask, self.config.label_smoothing)

    # -- training and inference --------------------------------------------------------------------------
    def forward(self, frames: torch.Tensor, words: torch.Tensor, word_ids: torch.Tensor, lengths: torch.Tensor,
                weights: torch.Tensor, masked_positions: torch.Tensor | None = None,
                generator: torch.Generator | None = None, fast: bool = True) -> CNMOutput:
        """The full training forward pass: mask, three reconstructions, both losses (``weights`` are the 2/1
        masking weights; ``masked_positions`` ``[B, L + 1]`` overrides the random choice of hidden words).
        The trainer (chapter 9) runs the same pieces, step by step, with only the gradients each step needs."""
        c = self.config
        clips, embedded = self.embed(frames, words)
        centre, width = self.generate_mask(clips, embedded, lengths, fast)
        slots, sentence, loss_mask, masked_positions = self.reconstruction_inputs(
            clips, embedded, lengths, word_ids.shape[1], masked_positions, weights, generator)
        mask = gaussian_mask(centre, width, slots.shape[1], c.alpha)
        batch = frames.shape[0]
        logits = self.reconstruct(slots.repeat(3, 1, 1), sentence.repeat(3, 1, 1), (~loss_mask).repeat(3, 1),
                                  stacked_weights(mine_samples(mask)), fast)
        positive, hard, easy = logits.split(batch)
        nll = [self.sentence_losses(x, word_ids, loss_mask) for x in (positive, hard, easy)]
        return CNMOutput(centre, width, mask, positive, hard, easy, masked_positions, loss_mask, *nll,
                         reconstruction_loss(nll[0], nll[1]), ivc_loss(*nll, c.beta1, c.beta2))

    @torch.no_grad()
    def predict(self, frames: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Inference: the moment ``[B, 2]`` from mask generation alone (call ``model.eval()`` first)."""
        clips, embedded = self.embed(frames, words)
        return predict_segment(*self.generate_mask(clips, embedded, lengths))


# -- the authors' parameter names ------------------------------------------------------------------------
_RENAMES = [
    (r"^mask_vec$", "mask_token"), (r"^start_vec$", "start_token"),
    (r"^frame_fc\.", "frame_proj."), (r"^word_fc\.", "word_proj."),
    (r"^fc_rec\.", "word_head."), (r"^fc_mask_gen\.", "mask_head.fc."),
    (r"^trans\.decoder1\.decoder_layers\.", "video_decoder.layers."),
    (r"^trans\.decoder2\.decoder_layers\.", "query_decoder.layers."),
    (r"\.self_attn_layer_norm\.", ".self_attn_norm."), (r"\.encoder_attn_layer_norm\.", ".cross_attn_norm."),
    (r"\.encoder_attn\.", ".cross_attn."), (r"\.fc1\.", ".ffn_in."), (r"\.fc2\.", ".ffn_out."),
    (r"\.final_layer_norm\.", ".ffn_norm."),
]


def official_name_to_ours(name: str) -> str:
    """Map one of the authors' state_dict keys (e.g. ``trans.decoder1.decoder_layers.0.fc1.weight``) to ours."""
    for pattern, replacement in _RENAMES:
        name = re.sub(pattern, replacement, name)
    return name


def from_official_state_dict(model: CNM, official: dict[str, torch.Tensor]) -> None:
    """Load the authors' parameters into ``model``; refuses any missing, unexpected or mis-shaped key,
    listing them all."""
    ours = model.state_dict()
    renamed = {official_name_to_ours(k): (k, torch.as_tensor(v)) for k, v in official.items()}
    missing = sorted(set(ours) - set(renamed))
    unexpected = sorted(k for n, (k, _) in renamed.items() if n not in ours)
    shapes = sorted(f"{k}: theirs {tuple(v.shape)}, ours {tuple(ours[n].shape)}"
                    for n, (k, v) in renamed.items() if n in ours and tuple(v.shape) != tuple(ours[n].shape))
    if missing or unexpected or shapes:
        raise ValueError("the official state_dict does not fit this model:\n"
                         + "".join(f"  missing {k}\n" for k in missing)
                         + "".join(f"  unexpected {k}\n" for k in unexpected)
                         + "".join(f"  shape {s}\n" for s in shapes))
    model.load_state_dict({n: v for n, (_, v) in renamed.items()})
