"""The same `train` under torchrun: two CPU processes (gloo) stay in sync, finish with sane metrics, and
resume."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--data",
    str(ROOT / "data_samples" / "charades-sta-sim"),
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
    "--warmup-updates",
    "5",
    "--lr",
    "1e-3",
    "--progress",
    "false",
]


def torchrun(out: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "cnm_minimal",
        "train",
        *TINY,
        "--out",
        str(out),
        *extra,
    ]
    env = os.environ | {"OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)


@pytest.mark.slow
def test_two_processes_stay_in_sync_and_resume(tmp_path):
    first = torchrun(tmp_path, "--epochs", "1")
    assert first.returncode == 0, first.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    epoch = results["history"][0]
    assert epoch["world_size"] == 2 and epoch["ranks_in_sync"] is True
    assert 0.05 < results["test_at_selected"]["mIoU"] < 1.0
    assert first.stdout.count("selected_epoch") == 1  # rank 0 alone prints and writes
    second = torchrun(
        tmp_path,
        "--epochs",
        "2",
        "--resume",
    )
    assert second.returncode == 0, second.stderr[-3000:]
    resumed = json.loads((tmp_path / "results.json").read_text())
    assert resumed["epochs_run"] == 2 and [h["epoch"] for h in resumed["history"]] == [1, 2]
    assert resumed["history"][0] == epoch and resumed["history"][1]["ranks_in_sync"] is True
