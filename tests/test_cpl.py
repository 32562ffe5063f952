"""CPL beside CNM: the K Gaussian proposals, the scheduled negatives, the losses, the selection, the model,
the trainer and the command line (cnm_minimal/gaussian_proposals.py ... cnm_minimal/cpl.py)."""

import inspect
import json
import math
from types import SimpleNamespace

import pytest
import torch

from cnm_minimal import train
from cnm_minimal.__main__ import main
from cnm_minimal.checkpoints import load_checkpoint, model_from_checkpoint
from cnm_minimal.config import ConfigError, TrainConfig
from cnm_minimal.cpl import CPL, CPLConfig
from cnm_minimal.dual_decoder import DualDecoder
from cnm_minimal.gaussian_mask import predict_segment
from cnm_minimal.gaussian_proposals import ProposalHead, proposal_masks
from cnm_minimal.losses import hinge
from cnm_minimal.metrics import temporal_iou
from cnm_minimal.model import CNM, CNMConfig
from cnm_minimal.proposal_losses import diversity_loss, proposal_reconstruction_loss, rank_loss
from cnm_minimal.proposal_mining import at_proposal, best_proposal, negative_proposals, negative_schedule
from cnm_minimal.proposal_selection import pairwise_iou, select_by_vote, select_lowest_loss

SMALL = dict(frame_dim=12, word_dim=8, vocab_size=25, hidden=16, heads=2, video_layers=1, query_layers=1)


def test_the_head_gives_k_centres_and_widths_in_0_1():
    head = ProposalHead(hidden=6, num_proposals=5)
    centre, width = head(torch.randn(3, 6))
    assert centre.shape == width.shape == (3, 5)
    assert bool(((centre > 0) & (centre < 1) & (width > 0) & (width < 1)).all())


def test_a_proposal_mask_peaks_at_1_with_std_width_over_sigma():
    centre, width = torch.tensor([[0.5]]), torch.tensor([[0.36]])
    mask = proposal_masks(centre, width, 101, sigma=9.0)[0, 0]  # slots at 0.00, 0.01, ..., 1.00
    assert mask.max() == 1.0 and mask.argmax() == 50
    std = 0.36 / 9  # 0.04: one std away, exp(-1/2)
    assert mask[54].item() == pytest.approx(math.exp(-0.5), rel=1e-5)
    assert mask[46].item() == pytest.approx(mask[54].item())
    narrow = proposal_masks(centre, torch.tensor([[0.0]]), 101, 9.0)[0, 0]  # width clamped at 0.01
    assert narrow[51].item() == pytest.approx(math.exp(-0.5 * (0.01 / (0.01 / 9)) ** 2), abs=1e-12)
    assert std == pytest.approx(0.04)


def test_the_schedule_goes_from_0_to_1_as_progress_to_the_power_gamma():
    assert negative_schedule(0.0, 0.5) == 0.0 and negative_schedule(1.0, 0.5) == 1.0
    assert negative_schedule(0.25, 0.5) == pytest.approx(0.5) and negative_schedule(2.0, 0.5) == 1.0
    assert negative_schedule(0.3, 0.0) == 1.0  # gamma 0 (ActivityNet): hard from the start


def test_negative_proposals_move_from_the_ends_towards_the_proposal():
    centre, width, slots = torch.tensor([[0.6]]), torch.tensor([[0.2]]), 201
    grid = torch.linspace(0, 1, slots)
    left, right = negative_proposals(centre, width, slots, 9.0, rho=1.0)
    assert grid[left[0, 0].argmax()].item() == pytest.approx(0.25)  # half of the left gap [0, 0.5]
    assert grid[right[0, 0].argmax()].item() == pytest.approx(0.85)  # 1 - half of the right gap [0.7, 1]
    assert left.max() == 1.0 and right.max() == 1.0
    # std = width / (sigma / 2): left width = its centre 0.25, right width = 1 - 0.85 = 0.15
    assert left[0, 0, 50 + 11].item() == pytest.approx(math.exp(-0.5 * (0.055 / (0.25 / 4.5)) ** 2), rel=1e-4)
    assert right[0, 0, 170 + 7].item() == pytest.approx(
        math.exp(-0.5 * (0.035 / (0.15 / 4.5)) ** 2), rel=1e-4
    )
    early_left, early_right = negative_proposals(centre, width, slots, 9.0, rho=0.0)
    assert early_left[0, 0].argmax() == 0 and early_right[0, 0].argmax() == slots - 1


def test_the_best_proposal_and_what_belongs_to_it():
    nll = torch.tensor([[3.0, 1.0, 2.0], [0.5, 4.0, 0.7]])
    best = best_proposal(nll)
    assert best.tolist() == [1, 0] and at_proposal(nll, best).tolist() == [1.0, 0.5]
    segments = torch.arange(12.0).view(2, 3, 2)
    assert at_proposal(segments, best).tolist() == [[2.0, 3.0], [6.0, 7.0]]


def test_the_losses_by_hand():
    positive = torch.tensor([[2.0, 1.0], [3.0, 2.5]])  # best: proposal 1, then 1
    hard = torch.tensor([1.05, 3.0])
    left = torch.tensor([[9.0, 1.1], [9.0, 2.0]])
    right = torch.tensor([[9.0, 2.0], [9.0, 2.6]])
    assert proposal_reconstruction_loss(positive, hard).item() == pytest.approx(
        ((1.0 + 2.5) / 2 + (1.05 + 3.0) / 2) / 2
    )
    best = best_proposal(positive)
    expected = (
        ((1.0 - 1.05 + 0.1) + 0.0) / 2
        + ((1.0 - 1.1 + 0.15) + (2.5 - 2.0 + 0.15)) / 2
        + (0.0 + (2.5 - 2.6 + 0.15)) / 2
    )
    assert rank_loss(positive, hard, left, right, best, 0.1, 0.15).item() == pytest.approx(expected)
    assert hinge(torch.tensor([1.0]), torch.tensor([2.0]), 0.5).item() == 0.0


def test_diversity_is_zero_for_disjoint_masks_at_lambda_1_and_large_for_identical_ones():
    disjoint = torch.eye(4).unsqueeze(0)  # 4 proposals on 4 different slots
    assert diversity_loss(disjoint, lam=1.0).item() == pytest.approx(0.0)
    assert diversity_loss(disjoint, lam=0.146).item() == pytest.approx(4 * (1 - 0.146) ** 2)
    same = torch.ones(1, 4, 4)  # every G_k = 1/4: every overlap 1/4
    assert diversity_loss(same, lam=0.146).item() == pytest.approx(4 * (0.146 - 0.25) ** 2 + 12 * 0.25**2)


def test_pairwise_iou_is_the_benchmark_iou():
    segments = torch.tensor([[[0.0, 0.4], [0.2, 0.6], [0.7, 0.9]]])
    iou = pairwise_iou(segments)[0]
    for i in range(3):
        for j in range(3):
            assert iou[i, j].item() == pytest.approx(
                temporal_iou(segments[0, i : i + 1].numpy(), segments[0, j : j + 1].numpy())[0]
            )


def test_the_vote_weights_each_voter_by_its_overlap_with_the_lowest_loss_proposal():
    # proposal 0 has the lowest loss; three others agree on [0.1, 0.5], which overlaps it by IoU 0.6
    segments = torch.tensor([[[0.0, 0.4], [0.1, 0.5], [0.1, 0.5], [0.1, 0.5], [0.8, 1.0]]])
    nll = torch.tensor([[1.0, 2.0, 3.0, 2.5, 1.5]])
    c = [1.0, 0.6, 0.6, 0.6, 0.0]  # IoU with proposal 0
    iou = pairwise_iou(segments)[0]
    scores = [sum(iou[i, j].item() * c[j] for j in range(5)) for i in range(5)]  # Eq. P.8 by hand
    assert scores[0] == pytest.approx(1 + 3 * 0.36) and scores[1] == pytest.approx(0.6 + 3 * 0.6)
    assert select_lowest_loss(nll).item() == 0
    assert select_by_vote(segments, nll).item() == 1  # the three that agree outvote the best one


def batch_of(model_config, size=3, clips=32, words=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([6, 4, 2][:size])
    return SimpleNamespace(
        frames=torch.randn(size, clips, model_config.frame_dim, generator=g),
        words=torch.randn(size, words + 1, model_config.word_dim, generator=g),
        word_ids=torch.randint(1, model_config.vocab_size, (size, words), generator=g),
        lengths=lengths,
        weights=torch.ones(size, words),
    )


def test_the_training_pass_reconstructs_each_proposal_as_cnm_reconstructs_one_mask():
    torch.manual_seed(0)
    model = CPL(CPLConfig(**SMALL, num_proposals=3)).eval()
    batch = batch_of(model.config)
    hidden = torch.zeros(3, 7, dtype=torch.bool)
    hidden[:, 2] = True
    out = model(
        batch.frames,
        batch.words,
        batch.word_ids,
        batch.lengths,
        batch.weights,
        masked_words=hidden,
        progress=0.5,
    )
    x = model.prepare(batch.frames, batch.words, batch.lengths, 6, masked_words=hidden)
    for k in range(3):  # the batched pass equals one mask at a time
        alone = model.sample_losses(x, batch.word_ids, {"p": out.masks[:, k], "l": out.left[:, k]})
        assert torch.allclose(alone["p"], out.nll_positive[:, k], atol=1e-5)
        assert torch.allclose(alone["l"], out.nll_left[:, k], atol=1e-5)
    whole = model.sample_losses(x, batch.word_ids, {"h": torch.ones(3, x.slots.shape[1])})["h"]
    assert torch.allclose(whole, out.nll_hard, atol=1e-6)
    assert out.best.tolist() == out.nll_positive.argmin(-1).tolist()
    assert torch.allclose(out.ivc_loss, 1.0 * out.rank_loss + 5.0 * out.div_loss)


def test_one_backward_reaches_every_parameter_the_proposal_token_included():
    torch.manual_seed(0)
    model = CPL(CPLConfig(**SMALL)).train()
    batch = batch_of(model.config)
    model.begin_epoch(3, 10)
    out = model.training_pass(batch, torch.Generator().manual_seed(0))
    (out.rec_loss + out.ivc_loss).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_the_proposal_token_reads_the_clips_and_is_never_a_key():
    """One layer by hand: the token's query attends to the N clips only (not to itself), then to the
    sentence."""
    torch.manual_seed(0)
    model = CPL(CPLConfig(**SMALL)).eval()
    batch = batch_of(model.config)
    clips, words = model.embed(batch.frames, batch.words)
    padding = ~(torch.arange(words.shape[1])[None, :] <= batch.lengths[:, None])
    layer = model.video_decoder.layers[0]
    with torch.no_grad():
        token = model.frame_proj(model.proposal_token).expand(3, 1, -1)
        x = layer.self_attn_norm(token + layer.self_attn(token, clips)[0])  # keys: the clips alone
        sentence = model.query_decoder(words + model.positions[: words.shape[1]], padding=padding)
        x = layer.cross_attn_norm(x + layer.cross_attn(x, sentence, padding)[0])
        x = layer.ffn_norm(x + layer.ffn_out(torch.relu(layer.ffn_in(x))))
        state = model.generator_state(clips, words, batch.lengths)
    assert torch.allclose(state, x[:, 0], atol=1e-5)


def test_the_trainer_s_epoch_hook_sets_the_negatives_schedule():
    torch.manual_seed(0)
    model = CPL(CPLConfig(**SMALL)).eval()
    batch = batch_of(model.config)
    model.begin_epoch(3, 10)
    out = model.training_pass(batch, torch.Generator().manual_seed(0))
    by_hand = model(
        *(batch.frames, batch.words, batch.word_ids, batch.lengths, batch.weights),
        rng=torch.Generator().manual_seed(0),
        progress=0.3,
    )
    assert torch.equal(out.left, by_hand.left) and torch.equal(out.rec_loss, by_hand.rec_loss)
    model.begin_epoch(10, 10)
    assert not torch.equal(model.training_pass(batch, torch.Generator().manual_seed(0)).left, out.left)


def predict_seeded(model, batch, seed: int):
    """CPL's inference masks words with torch's default CPU generator, as the evaluation seeds it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return model.predict_batch(batch)


def test_inference_keeps_the_lowest_loss_proposal_and_is_repeatable_with_its_generator():
    torch.manual_seed(0)
    model = CPL(CPLConfig(**SMALL)).eval()
    batch = batch_of(model.config)
    a = predict_seeded(model, batch, 1)
    b = predict_seeded(model, batch, 1)
    assert torch.equal(a.segment, b.segment) and torch.equal(a.nll, b.nll)
    k = a.nll.argmin(-1)
    assert torch.equal(a.segment, a.proposals[torch.arange(3), k])
    assert torch.equal(
        a.proposals,
        predict_segment(*model.generate_mask(*model.embed(batch.frames, batch.words), batch.lengths)),
    )
    vote = CPL(CPLConfig(**SMALL, selection="vote")).eval()
    vote.load_state_dict(model.state_dict())
    c = predict_seeded(vote, batch, 1)
    assert torch.equal(c.segment, a.vote_segment) and torch.equal(c.vote_segment, a.vote_segment)


def test_cpl_and_cnm_are_siblings_over_the_dual_decoder():
    """CPL has no alternating steps to refuse, and CNM no parameter that only CPL reads."""
    assert issubclass(CPL, DualDecoder) and not issubclass(CPL, CNM) and issubclass(CNM, DualDecoder)
    assert not hasattr(CPL, "reconstructor_loss") and not hasattr(CPL, "generator_loss")
    for method in ("training_pass", "predict_batch", "sample_nll"):
        assert not {"progress"} & set(inspect.signature(getattr(CNM, method)).parameters)
    assert "rng" not in inspect.signature(CNM.predict_batch).parameters


@pytest.mark.parametrize(
    "values, message",
    [
        (dict(architecture="cpl"), "use --mode joint"),
        (dict(num_proposals=4), "--num-proposals is an option of CPL: add --architecture cpl"),
        (dict(architecture="cpl", mode="joint", max_width=0.3), "--max-width is an option of CNM"),
        (
            dict(architecture="cpl", mode="joint", num_proposals=0),
            "--num-proposals 0: input should be greater",
        ),
        (dict(architecture="cpl", mode="joint", sigma=-1.0), "--sigma -1.0: input should be greater than 0"),
    ],
)
def test_bad_cpl_options_name_the_option(values, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.build(**values)


def test_the_config_builds_cpl_from_flat_values_and_back():
    config = TrainConfig.build(architecture="cpl", mode="joint", num_proposals=4, hidden=64)
    assert (
        isinstance(config.model, CPLConfig) and config.model.num_proposals == 4 and config.model.hidden == 64
    )
    assert TrainConfig.build(**config.flat()) == config
    plain = TrainConfig.build(**TrainConfig().flat())
    assert type(plain.model) is CNMConfig and "num_proposals" not in plain.flat()


TINY = dict(
    num_clips=16,
    hidden=32,
    heads=2,
    video_layers=1,
    query_layers=1,
    batch_size=64,
    warmup_updates=5,
    lr=1e-3,
    device="cpu",
    architecture="cpl",
    mode="joint",
    num_proposals=3,
)


def test_cpl_trains_evaluates_and_resumes_exactly(tmp_path):
    config = TrainConfig.build(**TINY, epochs=2, out=str(tmp_path / "whole"))
    data = train.prepare_data(config)
    whole = train.fit(config, data, log=lambda line: None)
    assert whole["history"][0]["test_vote"]["mIoU"] >= 0 and set(whole["val_gaps_at_selected"]) >= {
        "gap_left",
        "gap_right",
    }

    class Interrupted(Exception):
        pass

    def stop_after_epoch_1(line):  # the log line comes after the epoch's checkpoint
        if line.startswith("epoch 1/2"):
            raise Interrupted

    parts = TrainConfig.build(**TINY, epochs=2, out=str(tmp_path / "parts"))
    with pytest.raises(Interrupted):
        train.fit(parts, data, log=stop_after_epoch_1)
    rest = train.fit(parts, data, resume=True, log=lambda line: None)
    a, b = load_checkpoint(tmp_path / "whole" / "last.pt"), load_checkpoint(tmp_path / "parts" / "last.pt")
    assert all(torch.equal(v, b["model"][k]) for k, v in a["model"].items())
    assert [h["test"] for h in whole["history"]] == [h["test"] for h in rest["history"]]
    model = model_from_checkpoint(tmp_path / "whole" / "best.pt").model
    assert type(model) is CPL and model.config.num_proposals == 3


def test_the_cli_trains_cpl_and_evaluates_its_checkpoint(tmp_path, capsys):
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
    assert main(["train", *flags, "--epochs", "1", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "results.json").read_text())["config"]["architecture"] == "cpl"
    assert main(["evaluate", str(tmp_path / "best.pt"), "--device", "cpu"]) == 0
    assert "time-reversed" in capsys.readouterr().out
    assert main(["train", "--architecture", "cpl", "--out", str(tmp_path / "x")]) == 2
    assert "use --mode joint" in capsys.readouterr().err


def test_a_cnm_checkpoint_without_the_architecture_key_still_loads_as_cnm(tmp_path):
    from cnm_minimal.checkpoints import save_checkpoint

    model = CNM(CNMConfig(**SMALL))
    save_checkpoint(
        tmp_path / "old.pt",
        {
            "model": model.state_dict(),
            "model_config": model.config.__dict__,
            "vocabulary": ["a"],
            "embeddings": torch.zeros(2, 8),
            "constant_window": [0, 1],
        },
    )
    assert type(model_from_checkpoint(tmp_path / "old.pt").model) is CNM
