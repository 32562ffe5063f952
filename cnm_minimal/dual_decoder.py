"""The dual-decoder transformer that CNM and CPL share, and the reconstructor it carries (chapter 8).

Two decoders, a *video decoder* (the authors' ``decoder1``) and a *query decoder* (``decoder2``), are
used in two modes with the same weights:

* **mask generation** (the authors' ``decoding=1``): the query decoder encodes the sentence (causal
  self-attention, :meth:`DualDecoder.encode_query`); the video decoder reads the clips with cross-attention
  to that encoding, and a head turns its last state into a mask. The head, and what the video decoder reads,
  are the model's own: one Gaussian for CNM (:mod:`cnm_minimal.model`), K proposals for CPL
  (:mod:`cnm_minimal.cpl`);
* **reconstruction** (``decoding=2``): the video decoder encodes the P proposal slots with the mask on its
  keys; the query decoder reads the partly masked sentence (causal) with cross-attention to that encoding,
  again with the mask on its keys; a linear layer predicts the next word (chapter 6).

:class:`DualDecoder` holds those shared parts and what the trainer and the evaluation call of every model:
:meth:`~DualDecoder.training_pass`, :meth:`~DualDecoder.predict_batch`, :meth:`~DualDecoder.sample_nll` and
:meth:`~DualDecoder.begin_epoch`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from cnm_minimal.attention import Decoder
from cnm_minimal.dropout import Dropout
from cnm_minimal.gaussian_mask import proposal_slots
from cnm_minimal.negatives import stack_samples
from cnm_minimal.reconstruction import (
    choose_masked_words,
    counted_slots,
    label_smoothed_nll,
    mask_words,
    sinusoidal_positions,
)


@dataclass(frozen=True)
class DualDecoderConfig:
    """The shared transformer's sizes and the reconstruction's constants (the authors' Charades-STA I3D
    values)."""

    frame_dim: int = 1024
    word_dim: int = 300
    vocab_size: int = 1112  # output classes V = kept words + 1 (padding / end token)
    hidden: int = 256  # d, the transformer's width
    heads: int = 4
    video_layers: int = 3  # decoder1
    query_layers: int = 3  # decoder2
    dropout: float = 0.1
    beta1: float = 0.1  # the margins of the contrastive hinges (CNM's beta, CPL's m)
    beta2: float = 0.15
    label_smoothing: float = 0.1
    max_words: int = 20


class Inputs(NamedTuple):
    """What both modes read, made once per step by :meth:`DualDecoder.prepare`."""

    clips: torch.Tensor  # [B, N, d] projected clips
    words: torch.Tensor  # [B, L + 1, d] projected words, the start token in slot 0
    slots: torch.Tensor  # [B, P, d] the proposal slots (a sub-sample of the clips)
    sentence: torch.Tensor  # [B, L, d] the reconstructor's input: masked words, positions added
    counted: torch.Tensor  # [B, L] bool, the slots counted in the loss
    masked_words: torch.Tensor  # [B, L + 1] bool, the word slots replaced by the mask token


class DualDecoder(nn.Module, abc.ABC):
    """The shared transformer; a model adds its head as ``mask_head`` and the four methods below."""

    def __init__(self, config: DualDecoderConfig):
        super().__init__()
        self.config = c = config
        self.frame_proj = nn.Linear(c.frame_dim, c.hidden)
        self.word_proj = nn.Linear(c.word_dim, c.hidden)
        self.start_token = nn.Parameter(torch.zeros(c.word_dim))
        self.mask_token = nn.Parameter(torch.zeros(c.word_dim))
        self.video_decoder = Decoder(c.video_layers, c.hidden, c.heads, c.dropout)
        self.query_decoder = Decoder(c.query_layers, c.hidden, c.heads, c.dropout)
        self.word_head = nn.Linear(c.hidden, c.vocab_size)
        self.input_dropout = Dropout(c.dropout)
        self.register_buffer("positions", sinusoidal_positions(c.max_words + 1, c.hidden), persistent=False)

    def head_parameters(self) -> list[nn.Parameter]:
        """The mask head's parameters (CNM's step B trains only these)."""
        return list(self.mask_head.parameters())

    def reconstructor_parameters(self) -> list[nn.Parameter]:
        """Everything but the mask head, the shared transformer included (CNM's step A)."""
        head = {id(p) for p in self.mask_head.parameters()}
        return [p for p in self.parameters() if id(p) not in head]

    # -- inputs ------------------------------------------------------------------------------------------
    def embed(self, frames: torch.Tensor, words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Project clips ``[B, N, Df]`` and words ``[B, L + 1, Dw]`` (slot 0 becomes the start token)."""
        start = self.start_token.expand(words.shape[0], 1, -1)
        words = torch.cat([start, words[:, 1:]], dim=1)
        return self.frame_proj(self.input_dropout(frames)), self.word_proj(self.input_dropout(words))

    def prepare(
        self,
        frames: torch.Tensor,
        words: torch.Tensor,
        lengths: torch.Tensor,
        longest: int,
        weights: torch.Tensor | None = None,
        masked_words: torch.Tensor | None = None,
        rng: torch.Generator | None = None,
    ) -> Inputs:
        """Embed, take the proposal slots, mask words (drawn with ``weights`` and ``rng`` unless
        ``masked_words [B, L + 1]`` is given) and build the reconstructor's sentence."""
        clips, embedded = self.embed(frames, words)
        slots = clips[:, proposal_slots(clips.shape[1]).to(clips.device)]
        if masked_words is None:
            masked_words = choose_masked_words(weights, lengths, rng)
        sentence = mask_words(embedded, masked_words, self.word_proj(self.mask_token))
        sentence = (sentence + self.positions[: sentence.shape[1]])[:, :-1]
        return Inputs(clips, embedded, slots, sentence, counted_slots(lengths, longest), masked_words)

    def prepare_batch(self, batch, rng: torch.Generator | None = None) -> Inputs:
        """:meth:`prepare` for a :class:`~cnm_minimal.data.dataset.Batch`."""
        return self.prepare(
            batch.frames, batch.words, batch.lengths, batch.word_ids.shape[1], batch.weights, rng=rng
        )

    # -- the two modes -----------------------------------------------------------------------------------
    def encode_query(self, words: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask generation's first half: the query decoder over the start token and the words, ``[B, L + 1,
        d]``, and the padding of its slots (slots 0..l are the start token and the words)."""
        padding = ~counted_slots(lengths, words.shape[1])
        return self.query_decoder(words + self.positions[: words.shape[1]], padding=padding), padding

    def reconstruct(
        self, slots: torch.Tensor, sentence: torch.Tensor, padding: torch.Tensor, weights: torch.Tensor | None
    ) -> torch.Tensor:
        """Reconstruction: next-word logits ``[B, L, V]`` from proposal slots weighted by ``weights``."""
        video = self.video_decoder(slots, self_weights=weights)
        out = self.query_decoder(sentence, padding=padding, memory=video, memory_weights=weights)
        return self.word_head(out)

    def reconstruct_samples(self, x: Inputs, samples: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Next-word logits of each sample (chapter 4), all in one batched pass."""
        k = len(samples)
        logits = self.reconstruct(
            x.slots.repeat(k, 1, 1),
            x.sentence.repeat(k, 1, 1),
            (~x.counted).repeat(k, 1),
            stack_samples(samples),
        )
        return dict(zip(samples, logits.split(x.slots.shape[0])))

    def sentence_losses(
        self, logits: torch.Tensor, word_ids: torch.Tensor, counted: torch.Tensor
    ) -> torch.Tensor:
        """Label-smoothed NLL per sentence (chapter 6) of next-word ``logits``."""
        return label_smoothed_nll(logits, word_ids, counted, self.config.label_smoothing)

    def sample_losses(
        self, x: Inputs, word_ids: torch.Tensor, samples: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """The per-sentence reconstruction loss ``[B]`` of each sample."""
        return {
            name: self.sentence_losses(logits, word_ids, x.counted)
            for name, logits in self.reconstruct_samples(x, samples).items()
        }

    # -- what the trainer and the evaluation call --------------------------------------------------------
    def begin_epoch(self, epoch: int, epochs: int) -> None:  # noqa: B027 (a hook: most models need nothing)
        """Called by the trainer before epoch ``epoch`` of ``epochs`` (from 1), resumed runs included."""

    @abc.abstractmethod
    def training_pass(self, batch, rng: torch.Generator | None = None):
        """The model's whole objective on a batch (``--mode joint``); ``rng`` draws the masked words."""

    @abc.abstractmethod
    def predict_batch(self, batch, frames: torch.Tensor | None = None):
        """Inference on a batch: a named tuple with ``segment [B, 2]``, ``centre [B]`` and ``width [B]``
        (``frames`` replaces the batch's clips, e.g. played backwards). A model that draws at inference
        draws from torch's default CPU generator, which the evaluation seeds."""

    @abc.abstractmethod
    def sample_nll(self, batch, rng: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Per-sentence reconstruction losses ``[B]`` of the samples the model's hinges compare."""
