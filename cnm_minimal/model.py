"""CNM assembled: one dual-decoder transformer shared by the mask generator and the reconstructor (chapter 8).

Two decoders, a *video decoder* (the authors' ``decoder1``) and a *query decoder* (``decoder2``), are
used in two modes with the same weights:

* **mask generation** (the authors' ``decoding=1``): the query decoder encodes the sentence (causal
  self-attention); the video decoder runs over the N clips (causal self-attention) with cross-attention
  to that encoding; the state of the last clip goes through the Gaussian head (chapter 3);
* **reconstruction** (``decoding=2``): the video decoder encodes the P proposal slots with the mask on its
  keys; the query decoder reads the partly hidden sentence (causal) with cross-attention to that encoding,
  again with the mask on its keys; a linear layer predicts the next word (chapter 6).

The model owns its objective. :meth:`CNM.forward` is the full training pass (mask, the three samples of
chapter 4 in one batched reconstruction, both losses of chapter 7): the golden test checks it against the
authors' code, and the joint ablation trains on it. The alternating scheme of chapter 9 trains on
:meth:`CNM.reconstructor_loss` (step A, Eq. 8) and :meth:`CNM.generator_loss` (step B, Eq. 9), built from the
same pieces with only the gradients each step needs. Inference, :meth:`CNM.predict`, runs mask generation
only. The ablations (chapter 10) are fields of :class:`CNMConfig`, read by the components they change.
The authors' parameter names are mapped in :mod:`cnm_minimal.official`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import nn

from cnm_minimal.attention import Decoder
from cnm_minimal.dropout import Dropout
from cnm_minimal.gaussian_mask import GaussianMaskHead, predict_segment, proposal_slots, soft_mask
from cnm_minimal.losses import ivc_loss, reconstruction_loss
from cnm_minimal.negatives import mine_samples, stack_samples
from cnm_minimal.reconstruction import (
    choose_hidden_words,
    counted_slots,
    hide_words,
    label_smoothed_nll,
    sinusoidal_positions,
)


@dataclass(frozen=True)
class CNMConfig:
    """The model's sizes and the method's constants; defaults are the authors' Charades-STA I3D config."""

    frame_dim: int = 1024
    word_dim: int = 300
    vocab_size: int = 1112  # output classes V = kept words + 1 (padding / end token)
    hidden: int = 256
    heads: int = 4
    video_layers: int = 3  # decoder1
    query_layers: int = 3  # decoder2
    dropout: float = 0.1
    alpha: float = 5.5
    max_width: float = 0.45
    beta1: float = 0.1
    beta2: float = 0.15
    label_smoothing: float = 0.1
    max_words: int = 20
    # the paper's ablations (chapter 10), read by the components they change
    mask_shape: Literal["gaussian", "box"] = "gaussian"
    use_hard_negative: bool = True
    use_easy_negative: bool = True
    clip_positions: bool = False  # probe (chapter 11), not in the authors' model: see generator_state


@contextlib.contextmanager
def frozen(parameters):
    """Temporarily stop gradients to ``parameters`` (their ``.grad`` is left untouched)."""
    parameters = [p for p in parameters if p.requires_grad]
    for p in parameters:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in parameters:
            p.requires_grad_(True)


class CNMOutput(NamedTuple):
    centre: torch.Tensor  # [B]
    width: torch.Tensor  # [B]
    mask: torch.Tensor  # [B, P] the Gaussian over the proposal slots
    logits_positive: torch.Tensor  # [B, L, V]
    logits_hard: torch.Tensor | None  # None where an ablation leaves the negative out
    logits_easy: torch.Tensor | None
    hidden_words: torch.Tensor  # [B, L + 1] bool, the word slots replaced by the mask token
    counted: torch.Tensor  # [B, L] bool, the slots counted in the loss
    nll_positive: torch.Tensor  # [B]
    nll_hard: torch.Tensor | None
    nll_easy: torch.Tensor | None
    rec_loss: torch.Tensor  # scalar, Eq. 8
    ivc_loss: torch.Tensor  # scalar, Eq. 9


class Inputs(NamedTuple):
    """What both modes read, made once per step by :meth:`CNM.prepare`."""

    clips: torch.Tensor  # [B, N, d] projected clips
    words: torch.Tensor  # [B, L + 1, d] projected words, the start token in slot 0
    slots: torch.Tensor  # [B, P, d] the proposal slots (a sub-sample of the clips)
    sentence: torch.Tensor  # [B, L, d] the reconstructor's input: hidden words, positions added
    counted: torch.Tensor  # [B, L] bool, the slots counted in the loss
    hidden_words: torch.Tensor  # [B, L + 1] bool


class Prediction(NamedTuple):
    segment: torch.Tensor  # [B, 2] normalised start and end
    centre: torch.Tensor  # [B]
    width: torch.Tensor  # [B]


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

    def generator_parameters(self) -> list[nn.Parameter]:
        """What step B trains: the Gaussian head (514 numbers at d = 256)."""
        return list(self.mask_head.parameters())

    def reconstructor_parameters(self) -> list[nn.Parameter]:
        """What step A trains: everything else, the shared transformer included."""
        head = {id(p) for p in self.mask_head.parameters()}
        return [p for p in self.parameters() if id(p) not in head]

    # -- inputs and the two modes ------------------------------------------------------------------------
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
        hidden_words: torch.Tensor | None = None,
        rng: torch.Generator | None = None,
    ) -> Inputs:
        """Embed, take the proposal slots, hide words (drawn with ``weights`` and ``rng`` unless
        ``hidden_words [B, L + 1]`` is given) and build the reconstructor's sentence."""
        clips, embedded = self.embed(frames, words)
        slots = clips[:, proposal_slots(clips.shape[1]).to(clips.device)]
        if hidden_words is None:
            hidden_words = choose_hidden_words(weights, lengths, rng)
        sentence = hide_words(embedded, hidden_words, self.word_proj(self.mask_token))
        sentence = (sentence + self.positions[: sentence.shape[1]])[:, :-1]
        return Inputs(clips, embedded, slots, sentence, counted_slots(lengths, longest), hidden_words)

    def prepare_batch(self, batch, rng: torch.Generator | None = None) -> Inputs:
        """:meth:`prepare` for a :class:`~cnm_minimal.data.dataset.Batch`."""
        return self.prepare(
            batch.frames, batch.words, batch.lengths, batch.word_ids.shape[1], batch.weights, rng=rng
        )

    def generator_state(
        self, clips: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """Mask generation up to the head: the state ``h [B, d]`` of the last clip.

        The authors' clips carry no position encoding; with ``clip_positions`` (the probe of chapter 11) clip
        i gets the sinusoidal encoding of position i + 1 here, in the mask generator only."""
        if self.config.clip_positions:
            clips = clips + sinusoidal_positions(clips.shape[1] + 1, clips.shape[2])[1:].to(clips)
        padding = ~counted_slots(lengths, words.shape[1])  # slots 0..l are the start and the words
        query = self.query_decoder(words + self.positions[: words.shape[1]], padding=padding)
        return self.video_decoder(clips, memory=query, memory_padding=padding, last_only=True)[:, -1]

    def generate_mask(
        self, clips: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask generation on projected inputs: ``(centre [B], width [B])``."""
        return self.mask_head(self.generator_state(clips, words, lengths))

    def mask(self, centre: torch.Tensor, width: torch.Tensor, num_slots: int) -> torch.Tensor:
        """The mask ``[B, P]`` over the proposal slots: the Gaussian, or the ablation's shape."""
        return soft_mask(centre, width, num_slots, self.config.alpha, self.config.mask_shape)

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

    # -- the objective -------------------------------------------------------------------------------------
    def forward(
        self,
        frames: torch.Tensor,
        words: torch.Tensor,
        word_ids: torch.Tensor,
        lengths: torch.Tensor,
        weights: torch.Tensor,
        hidden_words: torch.Tensor | None = None,
        rng: torch.Generator | None = None,
    ) -> CNMOutput:
        """The full training pass: mask, the samples, both losses (``weights`` are the 2/1 masking weights;
        ``hidden_words [B, L + 1]`` overrides the random choice of hidden words)."""
        c = self.config
        x = self.prepare(frames, words, lengths, word_ids.shape[1], weights, hidden_words, rng)
        centre, width = self.generate_mask(x.clips, x.words, lengths)
        mask = self.mask(centre, width, x.slots.shape[1])
        samples = mine_samples(mask, c.use_hard_negative, c.use_easy_negative)
        logits = self.reconstruct_samples(x, samples)
        nll = {name: self.sentence_losses(v, word_ids, x.counted) for name, v in logits.items()}
        return CNMOutput(
            centre,
            width,
            mask,
            logits["positive"],
            logits.get("hard"),
            logits.get("easy"),
            x.hidden_words,
            x.counted,
            nll["positive"],
            nll.get("hard"),
            nll.get("easy"),
            reconstruction_loss(nll["positive"], nll.get("hard")),
            ivc_loss(nll["positive"], nll.get("hard"), nll.get("easy"), c.beta1, c.beta2),
        )

    def reconstructor_loss(self, batch, rng: torch.Generator | None = None) -> torch.Tensor:
        """Step A's objective, ``L_rec`` (Eq. 8): the positive and the hard negative. The Gaussian head is
        frozen, but the gradient still reaches the generator's transformer through the mask."""
        with frozen(self.generator_parameters()):
            x = self.prepare_batch(batch, rng)
            mask = self.mask(*self.generate_mask(x.clips, x.words, batch.lengths), x.slots.shape[1])
            nll = self.sample_losses(
                x, batch.word_ids, mine_samples(mask, self.config.use_hard_negative, easy=False)
            )
        return reconstruction_loss(nll["positive"], nll.get("hard"))

    def generator_loss(self, batch, rng: torch.Generator | None = None) -> torch.Tensor:
        """Step B's objective, ``L_IVC`` (Eq. 9), differentiable in the Gaussian head only: everything up to
        the generator state, and the hard negative (which does not depend on the mask), runs without autograd,
        and the reconstructor is frozen."""
        c = self.config
        with torch.no_grad():
            x = self.prepare_batch(batch, rng)
            state = self.generator_state(x.clips, x.words, batch.lengths)
            hard = (
                self.sample_losses(x, batch.word_ids, {"hard": x.slots.new_ones(x.slots.shape[:2])})
                if c.use_hard_negative
                else {}
            )
        mask = self.mask(*self.mask_head(state), x.slots.shape[1])
        with frozen(self.reconstructor_parameters()):
            nll = (
                self.sample_losses(
                    x, batch.word_ids, mine_samples(mask, hard=False, easy=c.use_easy_negative)
                )
                | hard
            )
        return ivc_loss(nll["positive"], nll.get("hard"), nll.get("easy"), c.beta1, c.beta2)

    @torch.no_grad()
    def predict(self, frames: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor) -> Prediction:
        """Inference: the moment ``[B, 2]`` from mask generation alone (call ``model.eval()`` first)."""
        clips, embedded = self.embed(frames, words)
        centre, width = self.generate_mask(clips, embedded, lengths)
        return Prediction(predict_segment(centre, width), centre, width)

    # -- what the trainer and the evaluation call, the same for CNM and CPL (cnm_minimal.cpl) ----------------
    def training_pass(self, batch, rng: torch.Generator | None = None, progress: float = 1.0) -> CNMOutput:
        """:meth:`forward` on a :class:`~cnm_minimal.data.dataset.Batch` (``--mode joint``; ``progress`` is
        for CPL)."""
        return self(batch.frames, batch.words, batch.word_ids, batch.lengths, batch.weights, rng=rng)

    def predict_batch(
        self, batch, frames: torch.Tensor | None = None, rng: torch.Generator | None = None
    ) -> Prediction:
        """:meth:`predict` on a batch (``frames`` replaces its clips, e.g. played backwards; ``rng`` is for
        CPL)."""
        return self.predict(batch.frames if frames is None else frames, batch.words, batch.lengths)

    @torch.no_grad()
    def sample_nll(self, batch, rng: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Per-sentence reconstruction losses ``[B]`` of the positive and both negatives (words hidden with
        ``rng``), whatever the ablation: what the IVC hinges compare."""
        x = self.prepare_batch(batch, rng)
        mask = self.mask(*self.generate_mask(x.clips, x.words, batch.lengths), x.slots.shape[1])
        return self.sample_losses(x, batch.word_ids, mine_samples(mask, hard=True, easy=True))
