"""CNM assembled: the shared dual-decoder transformer with one Gaussian mask (chapter 8).

CNM is a :class:`~cnm_minimal.dual_decoder.DualDecoder` whose mask generation runs the video decoder over the
N clips (causal self-attention, cross-attention to the query) and turns the last clip's state into one
Gaussian (chapter 3); reconstruction weights the proposal slots by that mask, its complement and the whole
video (chapter 4).

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

from cnm_minimal.dual_decoder import DualDecoder, DualDecoderConfig
from cnm_minimal.gaussian_mask import GaussianMaskHead, predict_segment, soft_mask
from cnm_minimal.losses import ivc_loss, reconstruction_loss
from cnm_minimal.negatives import mine_samples
from cnm_minimal.reconstruction import sinusoidal_positions


@dataclass(frozen=True)
class CNMConfig(DualDecoderConfig):
    """The shared transformer's fields plus CNM's mask; defaults are the authors' Charades-STA I3D config."""

    alpha: float = 5.5
    max_width: float = 0.45
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
    masked_words: torch.Tensor  # [B, L + 1] bool, the word slots replaced by the mask token
    counted: torch.Tensor  # [B, L] bool, the slots counted in the loss
    nll_positive: torch.Tensor  # [B]
    nll_hard: torch.Tensor | None
    nll_easy: torch.Tensor | None
    rec_loss: torch.Tensor  # scalar, Eq. 8
    ivc_loss: torch.Tensor  # scalar, Eq. 9


class Prediction(NamedTuple):
    segment: torch.Tensor  # [B, 2] normalised start and end
    centre: torch.Tensor  # [B]
    width: torch.Tensor  # [B]


class CNM(DualDecoder):
    def __init__(self, config: CNMConfig = CNMConfig()):
        super().__init__(config)
        self.mask_head = GaussianMaskHead(config.hidden, config.max_width)

    def generator_state(
        self, clips: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """Mask generation up to the head: the state ``h [B, d]`` of the last clip.

        The authors' clips carry no position encoding; with ``clip_positions`` (the probe of chapter 11) clip
        i gets the sinusoidal encoding of position i + 1 here, in the mask generator only."""
        if self.config.clip_positions:
            clips = clips + sinusoidal_positions(clips.shape[1] + 1, clips.shape[2])[1:].to(clips)
        query, padding = self.encode_query(words, lengths)
        return self.video_decoder(clips, memory=query, memory_padding=padding, last_only=True)[:, -1]

    def generate_mask(
        self, clips: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask generation on projected inputs: ``(centre [B], width [B])``."""
        return self.mask_head(self.generator_state(clips, words, lengths))

    def mask(self, centre: torch.Tensor, width: torch.Tensor, num_slots: int) -> torch.Tensor:
        """The mask ``[B, P]`` over the proposal slots: the Gaussian, or the ablation's shape."""
        return soft_mask(centre, width, num_slots, self.config.alpha, self.config.mask_shape)

    # -- the objective -------------------------------------------------------------------------------------
    def forward(
        self,
        frames: torch.Tensor,
        words: torch.Tensor,
        word_ids: torch.Tensor,
        lengths: torch.Tensor,
        weights: torch.Tensor,
        masked_words: torch.Tensor | None = None,
        rng: torch.Generator | None = None,
    ) -> CNMOutput:
        """The full training pass: mask, the samples, both losses (``weights`` are the 2/1 masking weights;
        ``masked_words [B, L + 1]`` overrides the random choice of masked words)."""
        c = self.config
        x = self.prepare(frames, words, lengths, word_ids.shape[1], weights, masked_words, rng)
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
            x.masked_words,
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
        with frozen(self.head_parameters()):
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

    # -- what the trainer and the evaluation call (cnm_minimal.dual_decoder) ------------------------------
    def training_pass(self, batch, rng: torch.Generator | None = None) -> CNMOutput:
        """:meth:`forward` on a :class:`~cnm_minimal.data.dataset.Batch` (``--mode joint``)."""
        return self(batch.frames, batch.words, batch.word_ids, batch.lengths, batch.weights, rng=rng)

    def predict_batch(self, batch, frames: torch.Tensor | None = None) -> Prediction:
        """:meth:`predict` on a batch (``frames`` replaces its clips, e.g. played backwards)."""
        return self.predict(batch.frames if frames is None else frames, batch.words, batch.lengths)

    @torch.no_grad()
    def sample_nll(self, batch, rng: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Per-sentence reconstruction losses ``[B]`` of the positive and both negatives (words masked with
        ``rng``), whatever the ablation: what the IVC hinges compare."""
        x = self.prepare_batch(batch, rng)
        mask = self.mask(*self.generate_mask(x.clips, x.words, batch.lengths), x.slots.shape[1])
        return self.sample_losses(x, batch.word_ids, mine_samples(mask, hard=True, easy=True))
