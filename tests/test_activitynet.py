"""The ActivityNet Captions path on simulated data in its layouts: CNM's json splits
(train/val/test_data.json), C3D features (file[vid]["c3d_features"], 500-d) and CLIP features (file[vid],
512-d), with the authors' configs."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from cnm_minimal.__main__ import main
from cnm_minimal.data.features import FeatureStore, write_features
from cnm_minimal.data.files import DatasetFiles, embeddings_for
from cnm_minimal.data.text import Vocabulary

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data_samples" / "charades-sta-sim"


def activitynet_layout(out: Path, dim: int, layout: str, name: str) -> Path:
    """The sample's annotations as CNM's ActivityNet json lists and its features projected to ``dim`` in
    ``layout``."""
    files = DatasetFiles.simulated(SAMPLE)
    for split in ("train", "val", "test"):
        rows = [[q.vid, q.duration, [q.start, q.end], q.sentence] for q in files.queries(split)[0]]
        (out / f"{split}_data.json").write_text(json.dumps(rows))
    projection = np.random.default_rng(0).standard_normal((64, dim)).astype(np.float32) / 8
    with h5py.File(files.features, "r") as source:
        write_features(
            out / name, {vid: np.asarray(source[vid]) @ projection for vid in source}, layout=layout
        )
    return out


@pytest.mark.parametrize(
    "config, dim, layout, name",
    [
        ("activitynet_c3d.json", 500, "c3d", "c3d_features.hdf5"),
        ("activitynet_clip.json", 512, "flat", "clip_vit_32_features.hdf5"),
    ],
)
def test_train_and_evaluate_in_the_activitynet_layouts(tmp_path, config, dim, layout, name):
    (tmp_path / "activitynet").mkdir()
    data = activitynet_layout(tmp_path / "activitynet", dim, layout, name)
    files = DatasetFiles.detect(data, name, str(SAMPLE / "word_vectors.txt"), layout)
    assert set(files.annotations) == {"train", "val", "test"}
    assert FeatureStore(files.features, layout).shape(files.queries("test")[0][0].vid)[1] == dim
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--config",
                str(ROOT / "configs" / config),
                "--data",
                str(data),
                "--word-vectors",
                str(SAMPLE / "word_vectors.txt"),
                "--out",
                str(out),
                "--epochs",
                "1",
                "--num-clips",
                "16",
                "--hidden",
                "32",
                "--heads",
                "2",
                "--video-layers",
                "1",
                "--query-layers",
                "1",
                "--batch-size",
                "64",
                "--progress",
                "false",
            ]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["feature_file"] == name and results["config"]["feature_layout"] == layout
    assert (results["config"]["model"]["alpha"], results["config"]["model"]["max_width"]) == (5.0, 1.0)
    assert 0.0 < results["test_at_selected"]["mIoU"] < 1.0
    assert main(["evaluate", str(out / "best.pt"), "--split", "val"]) == 0


def test_real_data_without_features_or_vectors_is_a_clear_error(tmp_path):
    (tmp_path / "train_data.json").write_text("[]")
    with pytest.raises(ValueError, match="real data needs the feature file's name"):
        DatasetFiles.detect(tmp_path)
    files = DatasetFiles.detect(tmp_path, "features.hdf5")  # evaluation needs no word vectors
    with pytest.raises(ValueError, match="needs word vectors"):
        embeddings_for(files, Vocabulary(("a",)))
