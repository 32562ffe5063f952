"""The simulator and the committed sample it makes (cnm_minimal/data/simulate.py)."""

import json
from pathlib import Path

import numpy as np
import pytest

from cnm_minimal.baselines import constant_predictions, mean_training_window
from cnm_minimal.data.features import FeatureStore
from cnm_minimal.data.files import DatasetFiles
from cnm_minimal.data.simulate import (
    FeatureKnobs,
    concept_of,
    feature_arrays_sha256,
    generate_annotations,
    make_sample,
    simulate_features,
    split_by_video,
)
from cnm_minimal.metrics import localization_metrics

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "charades-sta-sim"


def test_the_committed_sample_is_what_the_command_regenerates(tmp_path):
    """Annotations, durations and word vectors byte for byte; the features to float32 rounding, because their
    sums are computed by the CPU's BLAS, whose summation order differs between CPUs (seen: Intel vs AMD
    EPYC)."""
    manifest = make_sample(tmp_path / "sample")
    committed = json.loads((SAMPLE / "manifest.json").read_text())
    assert feature_arrays_sha256(SAMPLE / "features.hdf5") == committed["feature_arrays_sha256"]
    ignore = {"feature_arrays_sha256", "sha256"}
    assert {k: v for k, v in manifest.items() if k not in ignore} == {
        k: v for k, v in committed.items() if k not in ignore
    }
    for name in committed["sha256"]:
        if name != "features.hdf5":
            assert (tmp_path / "sample" / name).read_bytes() == (SAMPLE / name).read_bytes(), name
    ours, theirs = FeatureStore(tmp_path / "sample" / "features.hdf5"), FeatureStore(SAMPLE / "features.hdf5")
    vids = sorted(
        {
            q.vid
            for split in ("train", "val", "test")
            for q in DatasetFiles.simulated(SAMPLE).queries(split)[0]
        }
    )
    for vid in vids:
        np.testing.assert_allclose(ours.load(vid), theirs.load(vid), rtol=0, atol=1e-5, err_msg=vid)


def test_the_sample_is_small_and_labelled_simulated():
    size = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert size <= 10 * 2**20
    assert json.loads((SAMPLE / "manifest.json").read_text())["simulated"] is True
    assert "simulated" in (SAMPLE / "README.md").read_text().lower()


def test_generated_annotations_look_like_charades_sta():
    queries, durations = generate_annotations(2000, seed=7)
    moments = np.array([q.moment for q in queries])
    lengths = moments[:, 1] - moments[:, 0]
    assert 2.0 < len(queries) / len(durations) < 2.4  # real: 2.2-2.3 queries per video
    assert 28 < np.median(list(durations.values())) < 33  # real median 30.7 s
    assert 0.22 < np.median(lengths) < 0.29  # real median 0.25
    assert 0.15 < np.mean(moments[:, 0] == 0) < 0.23  # real: 19% start at 0
    assert (moments >= 0).all() and (moments <= 1).all() and (lengths > 0).all()
    keys = [(q.vid, q.start, q.end) for q in queries]
    with_partner = np.mean([keys.count(k) > 1 for k in keys])
    assert 0.38 < with_partner < 0.58  # real: 48% have a paraphrase


def test_generation_is_deterministic_and_seed_dependent():
    a, b, c = generate_annotations(50, 1), generate_annotations(50, 1), generate_annotations(50, 2)
    assert a == b and a != c


def test_splits_are_by_video():
    _, durations = generate_annotations(100, 3)
    splits = split_by_video(durations, {"train": 0.7, "val": 0.1, "test": 0.2}, 3)
    assert [len(v) for v in splits.values()] == [70, 10, 20]
    assert set().union(*map(set, splits.values())) == set(durations)


def test_concepts_merge_word_forms():
    assert concept_of("opens") == concept_of("opening") == concept_of("open")
    assert concept_of("sitting") == concept_of("sits") == "sit"
    assert concept_of("tidies") == concept_of("tidying")
    assert concept_of("the") is None and concept_of(".") is None


def test_features_carry_the_event_inside_its_moment_and_respond_to_the_knobs():
    from cnm_minimal.data.annotations import Query

    queries = [Query("V1", 40.0, 10.0, 20.0, "a person opens the door.", "x", 1)]
    quiet = dict(scene_gain=0.0, distractors=0.0, leakage=0.0, edge_s=2.0)
    clean = simulate_features(queries, {"V1": 40.0}, FeatureKnobs(noise=0.0, **quiet), seed=5)["V1"]
    norms = np.linalg.norm(clean, axis=1)
    times = np.arange(40) + 0.5
    assert np.allclose(norms[(times >= 10) & (times <= 20)], 8.0)  # sqrt(64) inside the moment
    assert (norms[(times < 8) | (times > 22)] == 0).all()  # nothing beyond the soft edge
    assert 0 < norms[9] < 8.0  # 9.5 s: on the 2 s ramp
    noisy = simulate_features(queries, {"V1": 40.0}, FeatureKnobs(noise=2.0, **quiet), seed=5)["V1"]
    assert np.std(noisy - clean) == pytest.approx(2.0, rel=0.1)


def test_the_temporal_prior_is_strong_but_far_from_perfect_on_the_sample():
    files = DatasetFiles.simulated(SAMPLE)
    train, _ = files.queries("train")
    test, _ = files.queries("test")
    window = mean_training_window([q.moment for q in train])
    prior = localization_metrics(constant_predictions(window, len(test)), [q.moment for q in test])
    assert 0.2 < prior["mIoU"] < 0.4 and prior["R@0.7"] < 0.2


def test_full_size_from_real_annotations_uses_their_videos(real_data, tmp_path, monkeypatch):
    """The real-annotation path of make_full, shrunk: a few videos, tiny features."""
    from cnm_minimal.data import simulate

    root = tmp_path / "real"
    root.mkdir()
    for split in ("train", "test"):
        lines = (real_data / f"charades_sta_{split}.txt").read_text().splitlines()[:25]
        (root / f"charades_sta_{split}.txt").write_text("\n".join(lines) + "\n")
    for name in ("Charades_v1_train.csv", "Charades_v1_test.csv"):
        (root / name).write_bytes((real_data / name).read_bytes())
    manifest = simulate.make_full(tmp_path / "out", FeatureKnobs(dim=8), real_annotations=root)
    assert manifest["annotations"] == "real files in real/"
    store = FeatureStore(tmp_path / "out" / "features.hdf5")
    vids = {
        line.split()[0]
        for split in ("train", "test")
        for line in (root / f"charades_sta_{split}.txt").read_text().splitlines()
    }
    store.check(vids, 8)
    assert not list((tmp_path / "out").glob("*_train.txt"))  # real annotations are not copied
