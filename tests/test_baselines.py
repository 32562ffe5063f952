"""Random and temporal-prior baselines (cnm_minimal/baselines.py)."""

import json
from pathlib import Path

import numpy as np
import pytest

from cnm_minimal.baselines import (
    constant_predictions,
    fit_prior_sampler,
    mean_training_window,
    random_segments,
    sample_prior,
    segments_from_centre_width,
)
from cnm_minimal.metrics import as_segments, localization_metrics

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "charades-sta"


def test_centre_width_is_clipped_to_the_video():
    segs = segments_from_centre_width([0.1, 0.5, 0.9], [0.4, 0.2, 0.5])
    np.testing.assert_allclose(segs, [[0.0, 0.3], [0.4, 0.6], [0.65, 1.0]])


def test_random_segments_are_valid_and_reproducible():
    a, b, c = random_segments(500, seed=3), random_segments(500, seed=3), random_segments(500, seed=4)
    as_segments(a)  # raises if any segment is invalid
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    with pytest.raises(ValueError):
        random_segments(0, seed=0)


def test_mean_training_window_is_the_mean_start_and_end():
    np.testing.assert_allclose(mean_training_window([[0.0, 0.4], [0.2, 0.6], [0.1, 0.2]]), [0.1, 0.4])


def test_constant_predictions_repeat_one_window():
    preds = constant_predictions([0.1, 0.4], 3)
    assert preds.shape == (3, 2)
    np.testing.assert_array_equal(preds, [[0.1, 0.4]] * 3)
    with pytest.raises(ValueError, match="single"):
        constant_predictions([[0.1, 0.4], [0.2, 0.3]], 3)


def load_cnm_split(name):
    rows = json.loads((SHARED / f"cnm_{name}.json").read_text())
    return np.array([[s / d, e / d] for _, d, (s, e), _ in rows])


@pytest.mark.skipif(not SHARED.is_dir(), reason="real Charades-STA annotations (../shared) not present")
def test_baselines_on_the_real_cnm_split():
    train, test = load_cnm_split("train"), load_cnm_split("test")
    assert (len(train), len(test)) == (10602, 3158)
    window = mean_training_window(train)
    prior = localization_metrics(constant_predictions(window, len(test)), test)
    rnd = localization_metrics(random_segments(len(test), seed=0), test)
    # ../shared/research/bias-and-learnability.md measured 23.0 mIoU for this window, independently
    assert prior["mIoU"] == pytest.approx(0.230, abs=0.0005)
    # the random baseline is far below the prior at IoU 0.5 on this benchmark
    assert rnd["R@0.5"] < prior["R@0.5"]
    assert 0.12 < rnd["R@0.5"] < 0.17 and 0.20 < rnd["mIoU"] < 0.23


def test_best_constant_window_on_a_small_case():
    from cnm_minimal.baselines import best_constant_window

    np.testing.assert_allclose(best_constant_window([[0.2, 0.4]] * 3, step=0.1), [0.2, 0.4])
    window = best_constant_window([[0.0, 0.3], [0.0, 0.4], [0.1, 0.4]], step=0.05)
    best = localization_metrics(constant_predictions(window, 3), [[0.0, 0.3], [0.0, 0.4], [0.1, 0.4]])["mIoU"]
    for a in np.arange(0, 1, 0.05):
        for b in np.arange(a + 0.05, 1.0001, 0.05):
            other = localization_metrics(
                constant_predictions([a, min(b, 1)], 3), [[0.0, 0.3], [0.0, 0.4], [0.1, 0.4]]
            )
            assert other["mIoU"] <= best + 1e-12


def test_best_constant_window_on_the_real_cnm_split(real_data):
    from cnm_minimal.baselines import best_constant_window

    train, test = load_cnm_split("train"), load_cnm_split("test")
    window = best_constant_window(train)
    np.testing.assert_allclose(window, [0.0, 0.47])
    row = localization_metrics(constant_predictions(window, len(test)), test)
    # ../shared/research/bias-and-learnability.md: 58.1 / 31.7 / 13.2, mIoU 35.9
    assert [round(100 * row[k], 1) for k in ("R@0.3", "R@0.5", "R@0.7", "mIoU")] == [58.1, 31.7, 13.2, 35.9]


# --- the temporal-prior sampler ---------------------------------------------------------------------
def test_prior_sampler_of_one_moment_samples_within_its_cell():
    prior = fit_prior_sampler([[0.225, 0.475]] * 4, bins=10)  # centre 0.35, width 0.25
    assert prior.probabilities.shape == (10, 10) and prior.probabilities[3, 2] == 1.0
    assert prior.probabilities.sum() == 1.0
    np.testing.assert_allclose(prior.edges, np.linspace(0, 1, 11))
    segs = sample_prior(prior, 1000, seed=0)
    centre, width = segs.mean(axis=1), segs[:, 1] - segs[:, 0]
    assert ((0.3 <= centre) & (centre < 0.4)).all() and ((0.2 <= width) & (width < 0.3)).all()
    with pytest.raises(ValueError):  # frozen arrays
        prior.probabilities[0, 0] = 1.0


def test_prior_sampler_is_deterministic_by_seed_and_stays_inside_the_video():
    rng = np.random.default_rng(0)
    train = np.sort(rng.random((300, 2)), axis=1)
    train[:20] = [0.0, 1.0]  # widths of 1: clipped at both ends
    prior = fit_prior_sampler(train)
    a, b, c = (
        sample_prior(prior, 2000, seed=5),
        sample_prior(prior, 2000, seed=5),
        sample_prior(prior, 2000, seed=6),
    )
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (2000, 2)
    as_segments(a)  # raises outside [0, 1] or start > end
    assert a.min() == 0.0 and a.max() == 1.0  # the full-video moments were drawn


def test_sampled_centres_and_widths_follow_the_training_histogram():
    rng = np.random.default_rng(1)
    centre = np.concatenate([rng.uniform(0.3, 0.45, 700), rng.uniform(0.55, 0.7, 300)])
    width = rng.uniform(0.0, 0.2, 1000)  # no moment reaches the video's ends
    prior = fit_prior_sampler(np.stack([centre - width / 2, centre + width / 2], axis=1), bins=20)
    segs = sample_prior(prior, 200_000, seed=2)
    sampled_centre, _ = np.histogram(segs.mean(axis=1), bins=prior.edges)
    sampled_width, _ = np.histogram(segs[:, 1] - segs[:, 0], bins=prior.edges)
    np.testing.assert_allclose(sampled_centre / len(segs), prior.probabilities.sum(axis=1), atol=0.005)
    np.testing.assert_allclose(sampled_width / len(segs), prior.probabilities.sum(axis=0), atol=0.005)
    assert np.mean(segs.mean(axis=1) < 0.5) == pytest.approx(0.7, abs=0.005)


def test_prior_sampler_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one training moment"):
        fit_prior_sampler(np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"shape \[Q, 2\]"):
        fit_prior_sampler([])
    with pytest.raises(ValueError, match=r"train_segments\[1\] .* start > end"):
        fit_prior_sampler([[0.1, 0.2], [0.5, 0.4]])
    with pytest.raises(ValueError, match="bins must be at least 1"):
        fit_prior_sampler([[0.1, 0.2]], bins=0)
    with pytest.raises(ValueError, match="num_queries must be at least 1"):
        sample_prior(fit_prior_sampler([[0.1, 0.2]]), 0, seed=0)
