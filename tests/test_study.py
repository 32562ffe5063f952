"""The controlled study of chapter 10 (cnm_minimal/study.py) and what it measures (evaluate.reconstruction_gaps)."""

import json

import numpy as np
import torch

from cnm_minimal import study
from cnm_minimal.config import TrainConfig
from cnm_minimal.data.simulate import TIMELINE_SAMPLE
from cnm_minimal.evaluate import centre_correlation, reconstruction_gaps, split_loader
from cnm_minimal.model import CNM, CNMConfig
from cnm_minimal.train import prepare_data

TINY = dict(num_clips=16, hidden=32, heads=2, video_layers=1, query_layers=1, batch_size=64, warmup_updates=5,
            lr=1e-3, device="cpu", epochs=2)


def test_the_study_trains_each_condition_variant_and_seed_and_tabulates(tmp_path):
    base = TrainConfig.build(**TINY | {"out": str(tmp_path / "results")})
    table = study.run_study(base, ["measured", "balanced"], ["full", "no_easy"], [0], tmp_path / "results",
                            tmp_path / "work", num_videos=40, data_seed=3)
    assert set(table) == {"measured", "balanced"} and set(table["measured"]) == {"full", "no_easy"}
    entry = table["balanced"]["no_easy"]
    assert entry["seeds"] == [0] and entry["test"]["n"] == 1 and len(entry["gap_hard_by_epoch"]) == 2
    run = json.loads((tmp_path / "results" / "balanced" / "no_easy_seed0.json").read_text())
    assert run["config"]["model"]["use_easy_negative"] is False and "balanced" in run["config"]["data"]
    manifest = json.loads((tmp_path / "work" / "data" / "balanced" / "manifest.json").read_text())
    assert manifest["recipe"]["prior"] == "balanced" and manifest["recipe"]["verbs"] == list(TIMELINE_SAMPLE["verbs"])
    assert json.loads((tmp_path / "results" / "study.json").read_text()) == table
    assert not list((tmp_path / "results").rglob("*.jsonl"))          # run folders live in work/, not in results


def test_reconstruction_gaps_are_the_differences_of_the_three_samples():
    data = prepare_data(TrainConfig.build(**TINY))
    torch.manual_seed(0)
    model = CNM(CNMConfig(hidden=32, heads=2, video_layers=1, query_layers=1, frame_dim=data.feature_dim,
                          vocab_size=len(data.vocabulary) + 1))
    loader = split_loader(data.splits["val"], data.embeddings, 64)
    gaps = reconstruction_gaps(model, loader, torch.device("cpu"), seed=1)
    assert gaps == reconstruction_gaps(model, loader, torch.device("cpu"), seed=1)     # same hidden words
    assert np.isclose(gaps["gap_hard"], gaps["hard"] - gaps["positive"])
    assert np.isclose(gaps["gap_easy"], gaps["easy"] - gaps["positive"])
    assert all(v > 0 for k, v in gaps.items() if not k.startswith("gap"))


def test_centre_correlation():
    moment = np.array([[0.0, 0.2], [0.4, 0.6], [0.7, 0.9]])
    assert np.isclose(centre_correlation({"moment": moment, "centre": np.array([0.1, 0.5, 0.8])}), 1.0)
    assert np.isclose(centre_correlation({"moment": moment, "centre": np.array([0.9, 0.5, 0.2])}), -1.0)
    assert centre_correlation({"moment": moment, "centre": np.full(3, 0.3)}) == 0.0       # a constant predictor
