"""Honest evaluation (chapter 11): bias reports, prior-hard queries, time reversal, the clip-position
probe."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cnm_minimal import baselines, bias
from cnm_minimal.data.annotations import Query
from cnm_minimal.evaluate import evaluate_predictions, predict_split
from cnm_minimal.gaussian_mask import predict_segment
from cnm_minimal.metrics import localization_metrics, temporal_iou
from cnm_minimal.model import CNM, CNMConfig, Prediction

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "charades-sta"


def queries(moments, durations=None):
    durations = durations if durations is not None else [30.0] * len(moments)
    return [
        Query(f"v{k}", d, s * d, e * d, "a person opens a door")
        for k, ((s, e), d) in enumerate(zip(moments, durations))
    ]


def test_time_reversed_mirrors_and_is_an_involution():
    moments = np.array([[0.0, 0.3], [0.25, 0.5], [0.6, 1.0]])
    np.testing.assert_allclose(bias.time_reversed(moments), [[0.7, 1.0], [0.5, 0.75], [0.0, 0.4]])
    np.testing.assert_allclose(bias.time_reversed(bias.time_reversed(moments)), moments)


def test_prior_hard_is_iou_below_threshold_with_the_window():
    moments = np.random.default_rng(0).uniform(0, 1, (200, 2))
    moments.sort(axis=1)
    hard = bias.prior_hard(moments, [0.0, 0.47])
    expected = temporal_iou(np.tile([0.0, 0.47], (200, 1)), moments) < 0.3
    assert np.array_equal(hard, expected) and 0 < hard.sum() < 200


def test_window_by_duration_learns_one_window_per_duration_group():
    short = [(0.0, 0.2)] * 20  # short videos: moments at the start
    long = [(0.7, 0.9)] * 20  # long videos: moments at the end
    train = np.array(short + long)
    durations = [10.0] * 20 + [100.0] * 20
    got = baselines.window_by_duration(train, durations, [12.0, 90.0], groups=2, step=0.1)
    np.testing.assert_allclose(got, [[0.0, 0.2], [0.7, 0.9]])
    one = baselines.window_by_duration(train, durations, [12.0, 90.0], groups=1, step=0.1)
    np.testing.assert_allclose(one, np.tile(baselines.best_constant_window(train, 0.1), (2, 1)))
    with pytest.raises(ValueError, match="train_durations"):
        baselines.window_by_duration(train, durations[:5], [1.0])


def test_baseline_table_on_simulated_annotations():
    from cnm_minimal.data.files import DatasetFiles

    files = DatasetFiles.simulated(ROOT / "data_samples" / "charades-sta-sim")
    train, test = files.queries("train")[0], files.queries("test")[0]
    report = bias.bias_report(train, test, step=0.02)
    rows = report["rows"]
    assert set(rows) == {
        "random (mean of 100 seeds)",
        "temporal-prior sampler (mean of 100 seeds)",
        "mean training window",
        "best constant window",
        "window by duration",
    }
    assert rows["best constant window"]["prior_hard"]["R@0.3"] == 0.0  # by definition of prior-hard
    window = np.array(report["window"])
    mirrored = bias.time_reversed(bias.moments_of(test))
    expected = localization_metrics(baselines.constant_predictions(window, len(test)), mirrored)
    assert rows["best constant window"]["reversed"]["mIoU"] == pytest.approx(expected["mIoU"], abs=1e-6)
    assert set(rows["best constant window"]["all"]) >= {"mIoU", "dR@0.5"}
    assert rows["best constant window"]["all"]["mIoU"] > rows["mean training window"]["all"]["mIoU"]
    assert report["prior_hard_count"] == int(bias.prior_hard(bias.moments_of(test), report["window"]).sum())
    assert sum(report["distributions"]["test"]["start"]["histogram"]) == len(test)


class ReadsTheClips(torch.nn.Module):
    """A stand-in model whose centre is where feature 0 peaks: it follows the moment when time is reversed."""

    def centre_width(self, frames):
        centre = frames[..., 0].argmax(1).float() / (frames.shape[1] - 1)
        return centre, torch.full_like(centre, 0.2)

    def predict_batch(self, batch, frames=None, rng=None):
        centre, width = self.centre_width(batch.frames if frames is None else frames)
        return Prediction(predict_segment(centre, width), centre, width)


class KnowsThePrior(ReadsTheClips):
    def centre_width(self, frames):
        return torch.full((frames.shape[0],), 0.2), torch.full((frames.shape[0],), 0.4)


def _loader():
    frames = torch.zeros(6, 11, 3)
    centres = torch.tensor([1, 2, 3, 1, 2, 3])  # a biased benchmark: every moment is early
    frames[torch.arange(6), centres, 0] = 1.0
    moments = torch.stack([centres / 10 - 0.1, centres / 10 + 0.1], dim=1)
    batch = SimpleNamespace(
        frames=frames,
        words=torch.zeros(6, 2, 1),
        lengths=torch.ones(6, dtype=torch.long),
        moments=moments,
        index=torch.arange(6),
    )
    batch.to = lambda device: batch
    return [batch]


def test_time_reversed_evaluation_separates_reading_from_guessing():
    reads = [
        evaluate_predictions(predict_split(ReadsTheClips(), _loader(), "cpu", reverse_time=r))["mIoU"]
        for r in (False, True)
    ]
    assert reads[0] == pytest.approx(reads[1]) and reads[0] > 0.9
    prior = [
        evaluate_predictions(predict_split(KnowsThePrior(), _loader(), "cpu", reverse_time=r))["mIoU"]
        for r in (False, True)
    ]
    assert prior[0] > prior[1] + 0.1


def test_evaluate_predictions_on_a_subset_by_dataset_index():
    predictions = {
        "predicted": np.array([[0.0, 0.5], [0.5, 1.0]]),
        "moment": np.array([[0.0, 0.5], [0.0, 0.5]]),
        "index": np.array([1, 0]),
    }
    assert evaluate_predictions(predictions, keep=np.array([False, True]))["mIoU"] == pytest.approx(1.0)
    assert evaluate_predictions(predictions, keep=np.array([True, False]))["mIoU"] == pytest.approx(
        0.0, abs=1e-9
    )


def test_clip_position_probe_changes_only_the_mask_generator():
    torch.manual_seed(0)
    config = CNMConfig(
        frame_dim=8, word_dim=6, vocab_size=11, hidden=16, heads=2, video_layers=1, query_layers=1
    )
    faithful, probe = CNM(config).eval(), CNM(CNMConfig(**{**config.__dict__, "clip_positions": True})).eval()
    probe.load_state_dict(faithful.state_dict())  # same parameters: checkpoints fit both
    clips, words, lengths = torch.randn(2, 12, 16), torch.randn(2, 4, 16), torch.tensor([3, 2])
    state = faithful.generator_state(clips, words, lengths), probe.generator_state(clips, words, lengths)
    assert not torch.allclose(*state)
    shuffled = clips[:, torch.randperm(12)]
    assert not torch.allclose(
        probe.generator_state(clips, words, lengths), probe.generator_state(shuffled, words, lengths)
    )
    slots, sentence, padding = (
        torch.randn(2, 3, 16),
        torch.randn(2, 4, 16),
        torch.zeros(2, 4, dtype=torch.bool),
    )
    torch.testing.assert_close(
        faithful.reconstruct(slots, sentence, padding, None),
        probe.reconstruct(slots, sentence, padding, None),
    )


@pytest.mark.skipif(not REAL.is_dir(), reason="the real Charades-STA files (../shared) are absent")
def test_constant_window_numbers_on_the_real_charades_sta_files():
    report = bias.charades_sta_report(REAL)
    cnm = report["cnm_split"]
    assert cnm["window"] == [0.0, 0.47] and cnm["test_count"] == 3158
    row = cnm["rows"]["best constant window"]["all"]
    assert [round(100 * row[k], 1) for k in ("R@0.3", "R@0.5", "R@0.7", "mIoU")] == [58.1, 31.7, 13.2, 35.9]
    assert report["original_test"]["count"] == 3720
    assert round(100 * report["original_test"]["same_window"]["mIoU"], 1) == 30.5
