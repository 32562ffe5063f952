"""python -m cnm_minimal: every command answers --help; train from a config with overrides; evaluate a
checkpoint."""

import json
import os
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
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_the_module_runs_as_a_program():
    result = subprocess.run(
        [sys.executable, "-m", "cnm_minimal", "train", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0 and "--hidden" in result.stdout and "--use-hard-negative" in result.stdout


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--mode", "jiont"], "invalid choice: 'jiont'"),
        (["--mask-shape", "boxx"], "invalid choice: 'boxx'"),
        (["--use-hard-negative", "ture"], "'ture' is not a boolean"),
        (["--dropout", "1.5"], "--dropout 1.5: input should be less than 1"),
        (["--epochs", "0"], "--epochs 0: input should be greater than or equal to 1"),
        (["--select-on", "tset"], "invalid choice: 'tset'"),
    ],
)
def test_bad_options_stop_with_one_line_and_exit_code_2(arguments, message, capsys):
    try:
        code = main(["train", *arguments, "--out", "unused"])
    except SystemExit as stop:  # argparse's own errors
        code = stop.code
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and message in error, error


def test_train_from_the_full_size_config_with_overrides_then_evaluate(tmp_path, capsys):
    tiny = [
        "--config",
        str(ROOT / "configs" / "charades_sim_full.json"),
        "--data",
        str(ROOT / "data_samples" / "charades-sta-sim"),
        "--feature-file",
        "features.hdf5",
        "--out",
        str(tmp_path),
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
    assert main(["train", *tiny]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert (
        results["config"]["epochs"] == 1
        and results["config"]["model"]["alpha"] == 5.5
        and results["config"]["lr"] == 4e-4
    )
    assert results["config"]["warmup_updates"] == 400  # from the config, not overridden
    assert "epoch 1/1  L_rec" in capsys.readouterr().out  # one log line per epoch


def test_evaluate_needs_only_the_checkpoint_and_the_split_files(tmp_path, capsys):
    """A copy of the test split's annotations and features, no training data, no word vectors."""
    import shutil

    sample = ROOT / "data_samples" / "charades-sta-sim"
    run = [
        "--out",
        str(tmp_path / "run"),
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
    ]
    assert main(["train", *run]) == 0
    alone = tmp_path / "only-test"
    alone.mkdir()
    for name in ("annotations_test.txt", "durations.csv", "features.hdf5"):
        shutil.copy(sample / name, alone / name)
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "run" / "best.pt"),
                "--data",
                str(alone),
                "--predictions",
                str(tmp_path / "p.jsonl"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "all queries" in out and "prior-hard" in out and "time-reversed" in out
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 233
    assert main(["evaluate", str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt: no such checkpoint" in capsys.readouterr().err
    assert (
        main(["evaluate", str(tmp_path / "run" / "best.pt"), "--data", str(alone), "--split", "test_ood"])
        == 2
    )
    error = capsys.readouterr().err
    assert "--split test_ood: " in error and error.strip().endswith("has the splits test")


def test_the_gpu_script_parses_and_uses_only_package_commands():
    script = ROOT / "tools" / "gpu_full_scale.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text()
    for command in ("simulate full", "reproduce full-scale", "train --config configs/charades_sim_full.json"):
        assert f"-m cnm_minimal {command}" in text
    assert "shared" not in text and (ROOT / "configs" / "charades_sim_full.json").is_file()
    assert "benchmarks/train_step.py --device cuda" in text


def test_the_cpu_full_scale_script_runs_the_full_scale_recipe_in_the_same_folder_each_time(tmp_path):
    """tools/full_scale_cpu.sh with a stand-in interpreter that records its arguments: every call runs the
    same recipe into the same folder (the recipe resumes the run it finds there: tests/test_reproduce.py)."""
    stub = tmp_path / "python"
    stub.write_text('#!/bin/sh\necho "$@" >> calls.txt\n')
    stub.chmod(0o755)
    env = dict(os.environ, PYTHON=str(stub))
    script = ROOT / "tools" / "full_scale_cpu.sh"
    for _ in range(2):
        assert subprocess.run(["bash", str(script)], cwd=tmp_path, env=env).returncode == 0
    first, second = (tmp_path / "calls.txt").read_text().splitlines()
    assert first == second == "-m cnm_minimal reproduce full-scale --out runs/full_scale/cnm_split"
    assert "shared" not in script.read_text()
    if Path("/usr/bin/time").is_file():  # GNU time: one report per stretch
        assert len(list((tmp_path / "runs" / "full_scale").glob("time_*.txt"))) == 2
