"""Chapter 10's diagnosis (cnm_minimal/diagnosis.py): the reconstructor as a scorer, the landscape, the
gradients, the probe, the ladder of sentences, and the command that trains and records an experiment."""

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cnm_minimal import diagnosis
from cnm_minimal.__main__ import main
from cnm_minimal.config import ConfigError, TrainConfig
from cnm_minimal.data.timelines import ActionClass
from cnm_minimal.evaluate import score_split, split_loader
from cnm_minimal.model import CNM
from cnm_minimal.negatives import mine_samples
from cnm_minimal.train import prepare_data, seed_everything

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data_samples" / "charades-sta-sim"
TINY = dict(num_clips=16, hidden=32, heads=2, video_layers=1, query_layers=1, batch_size=64)
TINY_FLAGS = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]


@pytest.fixture(scope="module")
def tiny():
    """A tiny untrained CNM and the sample's splits."""
    config = TrainConfig.build(data=str(SAMPLE), out="unused", **TINY)
    data = prepare_data(config)
    seed_everything(0)
    own = dict(frame_dim=data.feature_dim, word_dim=data.embeddings.shape[1], vocab_size=len(data.vocabulary))
    model = CNM(dataclasses.replace(config.model, **own)).eval()
    return model, data


def first_batch(data, split="test", size=16):
    return next(iter(split_loader(data.splits[split], data.embeddings, size)))


def test_a_candidate_loss_is_the_models_own_positive_loss(tiny):
    """One implementation: the scorer's loss at a candidate equals the positive sample's loss of training."""
    model, data = tiny
    batch = first_batch(data)
    x = model.prepare_batch(batch, torch.Generator().manual_seed(3))
    masks = diagnosis.candidate_masks(model, (0.2, 0.7), 0.3, len(batch), x.slots.shape[1], "cpu")
    with torch.no_grad():
        grid = diagnosis.losses_under_masks(model, x, batch.word_ids, masks)
        for k in range(2):
            own = model.sample_losses(x, batch.word_ids, {"positive": masks[:, k]})["positive"]
            assert torch.allclose(grid[:, k], own, atol=1e-5)


def test_the_scorer_answers_with_the_lowest_loss_candidate_and_is_scored_like_a_model(tiny):
    model, data = tiny
    scorer = diagnosis.ReconstructorScorer(model, centres=(0.1, 0.5, 0.9), width=0.2)
    batch = first_batch(data)
    torch.manual_seed(5)
    losses = scorer.losses(batch)
    torch.manual_seed(5)
    answer = scorer.predict_batch(batch)
    expected = torch.tensor([0.1, 0.5, 0.9])[losses.argmin(dim=1)]
    assert torch.equal(answer.centre, expected) and torch.all(answer.width == 0.2)
    assert torch.allclose(answer.segment, torch.stack([expected - 0.1, expected + 0.1], 1).clamp(0, 1))
    rows, _ = score_split(scorer, data.splits["test"], data.embeddings, "cpu", 64, (0.0, 0.3))
    again, _ = score_split(scorer, data.splits["test"], data.embeddings, "cpu", 64, (0.0, 0.3))
    assert {"all", "reversed", "centre_correlation"} <= set(
        rows
    ) and rows == again  # seeded by the evaluation


def test_the_landscape_and_its_bands(tiny):
    model, data = tiny
    loader = split_loader(data.splits["test"], data.embeddings, 64)
    land = diagnosis.landscape(model, loader, 0.3, centres=(0.25, 0.75))
    n = len(data.splits["test"])
    assert land["positive"].shape == land["easy"].shape == (n, 2) and land["hard"].shape == (n,)
    bands = diagnosis.band_curves(land, 0.1, 0.15)
    assert sum(b["queries"] for b in bands) == n
    for b in bands:
        assert abs(sum(b["positive_centred"])) < 1e-5  # centred per query
        assert all(0 <= v <= 1 for v in b["hard_hinge_active"] + b["easy_hinge_active"])


def test_band_curves_find_the_band_where_the_positive_is_lowest():
    truth = np.array([0.1, 0.15, 0.5, 0.9])
    centres = np.array([0.1, 0.5, 0.9])
    positive = np.abs(truth[:, None] - centres[None]) + 1.0  # lowest at the true centre
    land = {"positive": positive, "easy": positive + 0.5, "hard": np.full(4, 1.2), "truth": truth}
    bands = diagnosis.band_curves(land, 0.1, 0.15)
    assert [b["queries"] for b in bands] == [2, 1, 1]
    assert [int(np.argmin(b["positive_centred"])) for b in bands] == [0, 1, 2]
    # the hard hinge: max(L^p - 1.2 + 0.1, 0) is active where L^p > 1.1
    assert bands[0]["hard_hinge_active"] == [0.0, 1.0, 1.0]


def test_the_gradients_are_those_of_the_two_losses_at_the_heads_mask(tiny):
    """Against central differences of the per-query losses in the centre (float64, the same masked words)."""
    model, data = tiny
    model = copy.deepcopy(model).double()
    batch = first_batch(data, size=8)
    batch = dataclasses.replace(batch, frames=batch.frames.double(), words=batch.words.double())
    grads = diagnosis.centre_gradients(model, [batch], seed=2)
    x = model.prepare_batch(batch, torch.Generator().manual_seed(2))
    c = model.config
    with torch.no_grad():
        centre, width = model.generate_mask(x.clips, x.words, batch.lengths)

        def losses(shift):
            mask = model.mask(centre + shift, width, x.slots.shape[1])
            nll = model.sample_losses(x, batch.word_ids, mine_samples(mask))
            hinges = (nll["positive"] - nll["hard"] + c.beta1).clamp(min=0) + (
                nll["positive"] - nll["easy"] + c.beta2
            ).clamp(min=0)
            return nll["positive"] + nll["hard"], hinges

        (a_up, b_up), (a_down, b_down) = losses(1e-5), losses(-1e-5)
    assert np.allclose(grads["a_centre"], ((a_up - a_down) / 2e-5).numpy(), rtol=1e-4, atol=1e-6)
    assert np.allclose(grads["b_centre"], ((b_up - b_down) / 2e-5).numpy(), rtol=1e-4, atol=1e-6)


def test_the_gradient_summary_counts_descent_toward_the_truth():
    grads = {
        "centre": np.array([0.5, 0.5, 0.5, 0.5, 0.5]),
        "truth": np.array([0.9, 0.9, 0.1, 0.55, 0.1]),  # the fourth is near: left out
        "a_centre": np.array([-1.0, 1.0, 1.0, 5.0, 0.0]),  # descent -g: toward, away, toward, -, none
        "b_centre": np.array([-2.0, -2.0, 0.0, 0.0, 0.0]),
        "a_width": np.array([-1.0, -1.0, 1.0, 1.0, 1.0]),
        "b_width": np.zeros(5),
        "hard_on": np.array([True, True, False, False, True]),
        "easy_on": np.array([True, False, False, False, False]),
    }
    row = diagnosis.gradient_summary(grads)
    assert row["queries_far"] == 4
    assert row["step_a"]["toward_truth"] == pytest.approx(2 / 3)  # among the 3 far ones that move
    assert row["step_a"]["no_gradient"] == pytest.approx(1 / 4)
    assert row["step_a"]["widens"] == pytest.approx(2 / 5)
    assert row["step_b"]["toward_truth"] == 1.0 and row["step_b"]["no_gradient"] == 0.5
    assert row["hard_hinge_active"] == pytest.approx(3 / 5) and row["easy_hinge_active"] == pytest.approx(
        1 / 5
    )


def test_the_probe_reads_a_linear_signal_and_not_noise():
    rng = np.random.default_rng(0)

    def split(n, signal):
        centres = rng.uniform(0, 1, n)
        states = rng.normal(size=(n, 16))
        states[:, 3] += signal * centres
        return states, centres

    assert diagnosis.probe_correlation(split(400, 5.0), split(100, 5.0), split(200, 5.0))["test_r"] > 0.8
    assert abs(diagnosis.probe_correlation(split(400, 0.0), split(100, 0.0), split(200, 0.0))["test_r"]) < 0.3


def test_the_ladder_rewrites_only_the_sentence():
    action = ActionClass("Opening a door", "open", "door")
    query = ["V1", 30.0, [1.0, 5.0], "a person opens the door."]
    pool = {"Opening a door": [("V1", "own video"), ("V2", "someone opens a door.")]}
    rng = np.random.default_rng(0)
    assert diagnosis.ladder_sentence("real", query, action, pool, rng) == query[3]
    assert diagnosis.ladder_sentence("template_fixed", query, action, pool, rng) == "person opening a door."
    assert diagnosis.ladder_sentence("templates_paraphrased", query, action, pool, rng) in {
        t.format("opening a door") for t in diagnosis.TEMPLATES
    }
    for _ in range(5):  # never the query's own video
        assert (
            diagnosis.ladder_sentence("real_other_video", query, action, pool, rng) == "someone opens a door."
        )


def test_a_video_subset_keeps_whole_videos_until_enough_queries():
    rows = [[f"V{i // 3}", 30.0, [0, 1], "s"] for i in range(30)]  # ten videos of three queries
    subset = diagnosis.video_subset(rows, 7, seed=1)
    videos = {r[0] for r in subset}
    assert len(subset) == 9 and len(videos) == 3
    assert all(sum(r[0] == v for r in subset) == 3 for v in videos)
    assert subset == diagnosis.video_subset(rows, 7, seed=1)


def test_step_b_updates_are_an_option_of_the_alternating_scheme_only():
    assert TrainConfig.build(generator_updates=3).generator_updates == 3
    with pytest.raises(ConfigError, match="--generator-updates 0"):
        TrainConfig.build(generator_updates=0)
    with pytest.raises(ConfigError, match="--mode joint has no step B"):
        TrainConfig.build(generator_updates=2, mode="joint")


def test_the_command_trains_diagnoses_records_and_reuses(tmp_path, capsys):
    out, work = tmp_path / "records", tmp_path / "runs"
    argv = ["diagnose", "--data", str(SAMPLE), "--epochs", "2", "--seeds", "0", "--warmup-updates", "5"]
    argv += [*TINY_FLAGS, "--interventions", "cnm", "warm_start", "--out", str(out), "--work", str(work)]
    assert main(argv) == 0
    assert "cnm " in capsys.readouterr().out
    record = json.loads((out / "warm_start_seed0.json").read_text())
    assert {"first_epoch", "after_warm_start", "last_epoch"} <= set(record) and record["epochs"] == 2
    for part in ("head", "scorer", "landscape", "gradients", "probe", "probe_of_scorer"):
        assert part in record["last_epoch"]
    assert '"sentence"' not in (out / "cnm_seed0.json").read_text()  # numbers only
    table = json.loads((out / "diagnosis.json").read_text())["runs"]
    assert table["cnm"]["seeds"] == [0] and "head.centre_r" in table["cnm"]["last_epoch"]
    before = (out / "cnm_seed0.json").stat().st_mtime_ns
    assert main(argv) == 0  # finished with the same options: kept, not trained again
    assert (out / "cnm_seed0.json").stat().st_mtime_ns == before
    changed = [*argv[:-4], "--lr", "1e-3", *argv[-4:]]
    assert main(changed) == 2
    assert "a finished run with other options (--lr" in capsys.readouterr().err


def test_a_drawn_loader_keeps_a_seeded_subset_in_the_splits_order(tiny):
    _, data = tiny
    indices = [int(i) for batch in diagnosis.drawn_loader(data, "test", 50, 16) for i in batch.index]
    assert len(indices) == 50 and indices == sorted(indices) and len(set(indices)) == 50
    assert indices == [int(i) for batch in diagnosis.drawn_loader(data, "test", 50, 7) for i in batch.index]
    whole = [int(i) for batch in diagnosis.drawn_loader(data, "test", 10_000, 64) for i in batch.index]
    assert whole == list(range(len(data.splits["test"])))


DIAGNOSIS = ROOT / "book" / "results" / "diagnosis"
RECIPES = {
    "sample": "diagnosis-sample",
    "timelines": "diagnosis-timelines",
    "other_video": "diagnosis-other-video",
    "template": "diagnosis-template",
}


@pytest.mark.parametrize("folder", sorted(RECIPES))
def test_the_committed_tables_are_the_means_of_their_seed_records(folder):
    table = json.loads((DIAGNOSIS / folder / "diagnosis.json").read_text())["runs"]
    for run, entry in table.items():
        records = [
            json.loads((DIAGNOSIS / folder / f"{run}_seed{s}.json").read_text()) for s in entry["seeds"]
        ]
        assert entry["seeds"] == [0, 1, 2] == [r["config"]["seed"] for r in records]
        for epoch in ("first_epoch", "last_epoch"):
            for part, key in (("head", "centre_r"), ("scorer", "centre_r"), ("probe", "test_r")):
                values = [r[epoch][part][key] for r in records]
                assert entry[epoch][f"{part}.{key}"]["mean"] == pytest.approx(np.mean(values), abs=1e-12)
                assert entry[epoch][f"{part}.{key}"]["std"] == pytest.approx(np.std(values), abs=1e-12)
        for record in records:
            assert record["provenance"]["reproduce"] == f"python -m cnm_minimal reproduce {RECIPES[folder]}"


def test_each_intervention_changes_only_what_it_names():
    """On the sample, every run's options are CNM's (the authors' model at the book's size) but for the
    intervention's own changes: an intervention is evidence, the model stays the authors'."""
    cnm = json.loads((DIAGNOSIS / "sample" / "cnm_seed0.json").read_text())
    assert cnm["changes"] == {} and cnm["config"]["mode"] == "alternating"
    assert cnm["config"]["generator_updates"] == 1 and cnm["config"]["model"]["max_width"] == 0.45
    for name, change in diagnosis.INTERVENTIONS.items():
        record = json.loads((DIAGNOSIS / "sample" / f"{name}_seed0.json").read_text())
        flat = {k: v for k, v in record["config"].items() if k not in ("model", "out")} | record["config"][
            "model"
        ]
        base = {k: v for k, v in cnm["config"].items() if k not in ("model", "out")} | cnm["config"]["model"]
        assert {k for k in flat if flat[k] != base[k]} == set(change), name
        assert record["changes"] == change
