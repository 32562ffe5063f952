"""python -m cnm_minimal: every command answers --help; train from a config with overrides; evaluate a checkpoint."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cnm_minimal.__main__ import COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]


def test_the_command_list_and_an_unknown_command(capsys):
    assert main([]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in COMMANDS)
    assert main(["fly"]) == 2


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command):
    result = subprocess.run([sys.executable, "-m", "cnm_minimal", command, "--help"], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_train_from_the_full_size_config_with_overrides_then_evaluate(tmp_path, capsys):
    tiny = ["--config", str(ROOT / "configs" / "charades_sim_full.json"), "--data", str(ROOT / "data_samples" / "charades-sta-sim"),
            "--feature-file", "features.hdf5", "--out", str(tmp_path), "--epochs", "1", "--num-clips", "16", "--hidden", "32",
            "--heads", "2", "--video-layers", "1", "--query-layers", "1", "--batch-size", "64", "--progress", "false"]
    assert main(["train", *tiny]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["epochs"] == 1 and results["config"]["alpha"] == 5.5 and results["config"]["lr"] == 4e-4
    assert results["config"]["warmup_updates"] == 400                  # from the config, not overridden
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "best.pt"), "--predictions", str(tmp_path / "p.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "all queries" in out and "prior-hard" in out and "time-reversed" in out
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 233


def test_the_gpu_script_parses_and_uses_only_package_commands():
    script = ROOT / "tools" / "gpu_full_scale.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text()
    for command in ("simulate full", "train --config configs/charades_sim_full.json"):
        assert f"-m cnm_minimal {command}" in text
    assert "benchmarks/train_step.py --device cuda" in text
