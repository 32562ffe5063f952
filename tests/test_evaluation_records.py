"""What the trainer records beside the metrics: the reconstruction gaps the IVC loss sees, and the centre
correlation."""

import numpy as np
import torch

from cnm_minimal.config import TrainConfig
from cnm_minimal.evaluate import centre_correlation, reconstruction_gaps, split_loader
from cnm_minimal.model import CNM, CNMConfig
from cnm_minimal.train import prepare_data

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
    epochs=2,
)


def test_reconstruction_gaps_are_the_differences_of_the_three_samples():
    data = prepare_data(TrainConfig.build(**TINY))
    torch.manual_seed(0)
    model = CNM(
        CNMConfig(
            hidden=32,
            heads=2,
            video_layers=1,
            query_layers=1,
            frame_dim=data.feature_dim,
            vocab_size=len(data.vocabulary) + 1,
        )
    )
    loader = split_loader(data.splits["val"], data.embeddings, 64)
    gaps = reconstruction_gaps(model, loader, torch.device("cpu"), seed=1)
    assert gaps == reconstruction_gaps(model, loader, torch.device("cpu"), seed=1)  # same hidden words
    assert np.isclose(gaps["gap_hard"], gaps["hard"] - gaps["positive"])
    assert np.isclose(gaps["gap_easy"], gaps["easy"] - gaps["positive"])
    assert all(v > 0 for k, v in gaps.items() if not k.startswith("gap"))


def test_centre_correlation():
    moment = np.array([[0.0, 0.2], [0.4, 0.6], [0.7, 0.9]])
    assert np.isclose(centre_correlation({"moment": moment, "centre": np.array([0.1, 0.5, 0.8])}), 1.0)
    assert np.isclose(centre_correlation({"moment": moment, "centre": np.array([0.9, 0.5, 0.2])}), -1.0)
    assert centre_correlation({"moment": moment, "centre": np.full(3, 0.3)}) == 0.0  # a constant predictor
