"""CPL assembled: CNM's transformer with K Gaussian proposals, scheduled negatives and one objective (chapter
12).

CPL (Zheng et al., CVPR 2022, "Weakly Supervised Temporal Sentence Grounding with Gaussian-based Contrastive
Proposal Learning") is CNM's successor by the same authors. It keeps every part CNM shares with it, unchanged:
the projections, the start and mask tokens, the two decoders and mask-conditioned attention (chapter 5), the
masked words and the label-smoothed next-word loss (chapter 6), the hinge (chapter 7). What changes:

* mask generation reads a learned token appended after the clips and predicts K proposals
  (:mod:`cnm_minimal.gaussian_proposals`, Eq. 12.1-12.2);
* each proposal brings two negatives that move in from the video's ends as training proceeds, and the
  positive is the proposal that reconstructs best (:mod:`cnm_minimal.proposal_mining`, Eq. 12.3);
* one objective, ``L_rec + alpha1 L_rank + alpha2 L_div``, trained by one optimiser
  (:mod:`cnm_minimal.proposal_losses`, Eq. 12.4-12.7): the trainer's ``--mode joint``;
* inference reconstructs the query from each proposal and keeps the best (or the vote,
  :mod:`cnm_minimal.proposal_selection`, Eq. 12.8), so unlike CNM it needs the sentence's words and masks
  some.

:class:`CPL` and :class:`~cnm_minimal.model.CNM` are siblings: both are a
:class:`~cnm_minimal.dual_decoder.DualDecoder` (the embedding, the two modes, the sentence losses) with their
own head, objective and inference. The margins m1, m2 are the shared ``beta1``, ``beta2`` (0.1, 0.15 in both
papers); CNM's ``alpha``, ``max_width`` and ablation switches are not CPL's fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import nn

from cnm_minimal.dual_decoder import DualDecoder, DualDecoderConfig, Inputs
from cnm_minimal.gaussian_mask import predict_segment
from cnm_minimal.gaussian_proposals import ProposalHead, proposal_masks
from cnm_minimal.proposal_losses import diversity_loss, proposal_reconstruction_loss, rank_loss
from cnm_minimal.proposal_mining import at_proposal, best_proposal, negative_proposals, negative_schedule
from cnm_minimal.proposal_selection import select_by_vote, select_lowest_loss


@dataclass(frozen=True)
class CPLConfig(DualDecoderConfig):
    """The shared transformer's fields plus CPL's constants; defaults: the authors' Charades-STA values."""

    num_proposals: int = 8  # K
    sigma: float = 9.0  # a proposal's std is its width / sigma (Eq. 12.2)
    gamma: float = 0.5  # the negatives' schedule, rho = (e / E)^gamma (Eq. 12.3)
    div_lambda: float = 0.146  # lambda of the diversity loss (Eq. 12.6)
    alpha1: float = 1.0  # weight of the rank loss (Eq. 12.7)
    alpha2: float = 5.0  # weight of the diversity loss
    selection: Literal["loss", "vote"] = "loss"  # the answer at inference (Eq. 12.8)


class CPLOutput(NamedTuple):
    centre: torch.Tensor  # [B, K]
    width: torch.Tensor  # [B, K]
    masks: torch.Tensor  # [B, K, P]
    left: torch.Tensor  # [B, K, P] the negative proposals
    right: torch.Tensor
    nll_positive: torch.Tensor  # [B, K]
    nll_left: torch.Tensor  # [B, K]
    nll_right: torch.Tensor  # [B, K]
    nll_hard: torch.Tensor  # [B] the whole video
    best: torch.Tensor  # [B] k*
    rec_loss: torch.Tensor  # Eq. 12.4
    rank_loss: torch.Tensor  # Eq. 12.5
    div_loss: torch.Tensor  # Eq. 12.6
    ivc_loss: torch.Tensor  # alpha1 L_rank + alpha2 L_div


class CPLPrediction(NamedTuple):
    segment: torch.Tensor  # [B, 2] the answer: the selected proposal's moment
    centre: torch.Tensor  # [B]
    width: torch.Tensor  # [B]
    proposals: torch.Tensor  # [B, K, 2] every proposal's moment
    nll: torch.Tensor  # [B, K] their reconstruction losses
    vote_segment: torch.Tensor  # [B, 2] the vote's answer (Eq. 12.8), whichever selection is configured


class CPL(DualDecoder):
    def __init__(self, config: CPLConfig = CPLConfig()):
        super().__init__(config)
        self.mask_head = ProposalHead(config.hidden, config.num_proposals)
        self.proposal_token = nn.Parameter(torch.zeros(config.frame_dim))  # appended after the clips
        self.progress = 1.0  # the share of training begun, e / E: the negatives' schedule (Eq. 12.3)

    def generator_state(
        self, clips: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """The video decoder's state at the proposal token ``[B, d]``; the token is a key no position attends
        to (it is dropped out and projected as a clip is)."""
        token = self.frame_proj(self.input_dropout(self.proposal_token.expand(clips.shape[0], 1, -1)))
        video = torch.cat([clips, token], dim=1)
        video_padding = torch.zeros(video.shape[:2], dtype=torch.bool, device=video.device)
        video_padding[:, -1] = True
        query, padding = self.encode_query(words, lengths)
        return self.video_decoder(
            video, padding=video_padding, memory=query, memory_padding=padding, last_only=True
        )[:, -1]

    def generate_mask(
        self, clips: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The K proposals on projected inputs: ``(centre [B, K], width [B, K])``."""
        return self.mask_head(self.generator_state(clips, words, lengths))

    def proposal_losses(self, x: Inputs, word_ids: torch.Tensor, masks: dict[str, torch.Tensor]) -> dict:
        """Per-sentence reconstruction losses ``[B, K]`` of K weightings ``[B, K, P]`` each (one batched
        pass)."""
        k = next(iter(masks.values())).shape[1]
        each = Inputs(*(t.repeat_interleave(k, dim=0) for t in x))
        flat = self.sample_losses(
            each, word_ids.repeat_interleave(k, dim=0), {name: m.flatten(0, 1) for name, m in masks.items()}
        )
        return {name: loss.view(-1, k) for name, loss in flat.items()}

    def forward(
        self,
        frames: torch.Tensor,
        words: torch.Tensor,
        word_ids: torch.Tensor,
        lengths: torch.Tensor,
        weights: torch.Tensor,
        masked_words: torch.Tensor | None = None,
        rng: torch.Generator | None = None,
        progress: float = 1.0,
    ) -> CPLOutput:
        """The training pass at ``progress`` = epoch / epochs (Eq. 12.1-12.7)."""
        c = self.config
        x = self.prepare(frames, words, lengths, word_ids.shape[1], weights, masked_words, rng)
        centre, width = self.generate_mask(x.clips, x.words, lengths)
        slots = x.slots.shape[1]
        masks = proposal_masks(centre, width, slots, c.sigma)
        left, right = negative_proposals(centre, width, slots, c.sigma, negative_schedule(progress, c.gamma))
        nll = self.proposal_losses(x, word_ids, {"positive": masks, "left": left, "right": right})
        hard = self.sample_losses(x, word_ids, {"hard": x.slots.new_ones(x.slots.shape[:2])})["hard"]
        best = best_proposal(nll["positive"].detach())
        rank = rank_loss(nll["positive"], hard, nll["left"], nll["right"], best, c.beta1, c.beta2)
        div = diversity_loss(masks, c.div_lambda)
        return CPLOutput(
            centre,
            width,
            masks,
            left,
            right,
            nll["positive"],
            nll["left"],
            nll["right"],
            hard,
            best,
            proposal_reconstruction_loss(nll["positive"], hard),
            rank,
            div,
            c.alpha1 * rank + c.alpha2 * div,
        )

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        """The negatives move in as training proceeds: ``progress = epoch / epochs``."""
        self.progress = epoch / epochs

    def training_pass(self, batch, rng: torch.Generator | None = None) -> CPLOutput:
        """:meth:`forward` on a :class:`~cnm_minimal.data.dataset.Batch` at the current ``progress`` (what
        ``--mode joint`` trains)."""
        return self(
            batch.frames,
            batch.words,
            batch.word_ids,
            batch.lengths,
            batch.weights,
            rng=rng,
            progress=self.progress,
        )

    @torch.no_grad()
    def predict_batch(self, batch, frames: torch.Tensor | None = None) -> CPLPrediction:
        """Inference: every proposal's reconstruction loss (words masked with torch's default generator, which
        the evaluation seeds), the best one's moment (or the vote's, with ``selection="vote"``); ``frames``
        replaces the batch's (the time-reversed split)."""
        frames = batch.frames if frames is None else frames
        x = self.prepare(frames, batch.words, batch.lengths, batch.word_ids.shape[1], batch.weights)
        centre, width = self.generate_mask(x.clips, x.words, batch.lengths)
        masks = proposal_masks(centre, width, x.slots.shape[1], self.config.sigma)
        nll = self.proposal_losses(x, batch.word_ids, {"positive": masks})["positive"]
        proposals = predict_segment(centre, width)
        by_vote = select_by_vote(proposals, nll)
        chosen = by_vote if self.config.selection == "vote" else select_lowest_loss(nll)
        return CPLPrediction(
            at_proposal(proposals, chosen),
            at_proposal(centre, chosen),
            at_proposal(width, chosen),
            proposals,
            nll,
            at_proposal(proposals, by_vote),
        )

    @torch.no_grad()
    def sample_nll(self, batch, rng: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Per-sentence losses ``[B]`` of the best proposal, the whole video and the best one's two negatives,
        at the end of the schedule (rho = 1): what the rank loss compares."""
        out = self(
            batch.frames, batch.words, batch.word_ids, batch.lengths, batch.weights, rng=rng, progress=1.0
        )
        return {
            "positive": at_proposal(out.nll_positive, out.best),
            "hard": out.nll_hard,
            "left": at_proposal(out.nll_left, out.best),
            "right": at_proposal(out.nll_right, out.best),
        }
