"""Fault injection: each way a user can damage a run or feed bad input, and the one line they now get.

Every row of the reliability table is one test here (or names the test that covers it elsewhere); each asserts
the exit code 2, the message and that nothing was lost.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from cnm_minimal.__main__ import main
from cnm_minimal.checkpoints import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data_samples" / "charades-sta-sim"
TINY = [
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
    "--device",
    "cpu",
]


def run(capsys, *arguments) -> tuple[int, str, str]:
    """``python -m cnm_minimal ARGS`` in-process: (exit code, stdout, the last line of stderr)."""
    capsys.readouterr()
    try:
        code = main(list(map(str, arguments)))
    except SystemExit as stop:  # argparse's own errors exit 2 too
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, (err.strip().splitlines() or [""])[-1]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished one-epoch run (copied by the tests that damage it)."""
    out = tmp_path_factory.mktemp("finished")
    assert main(["train", "--out", str(out), "--epochs", "1", *TINY]) == 0
    return out


def copy_of(run_dir: Path, tmp_path: Path) -> Path:
    shutil.copytree(run_dir, tmp_path / "run", ignore=shutil.ignore_patterns(".lock"))
    return tmp_path / "run"


def test_a_finished_run_is_not_overwritten_without_resume_or_overwrite(finished, tmp_path, capsys):
    out = copy_of(finished, tmp_path)
    before = (out / "results.json").read_bytes()
    code, _, error = run(capsys, "train", "--out", out, "--epochs", "1", *TINY)
    assert code == 2 and "holds a run (last.pt, best.pt, results.json" in error and "--overwrite" in error
    assert (out / "results.json").read_bytes() == before
    assert run(capsys, "train", "--out", out, "--epochs", "1", "--overwrite", *TINY)[0] == 0


def test_resume_without_a_checkpoint_is_an_error(tmp_path, capsys):
    code, _, error = run(capsys, "train", "--out", tmp_path / "empty", "--epochs", "1", "--resume", *TINY)
    assert code == 2 and "nothing to resume (no last.pt)" in error


def test_a_second_run_into_a_folder_in_use_is_refused_with_the_other_process(tmp_path, capsys):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom cnm_minimal.checkpoints import run_folder\n"
            f"with run_folder({str(tmp_path / 'busy')!r}):\n    print('held', flush=True)\n"
            "    time.sleep(60)",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        code, _, error = run(capsys, "train", "--out", tmp_path / "busy", "--epochs", "1", *TINY)
        assert code == 2 and f"in use by another training process (pid {holder.pid})" in error
    finally:
        holder.kill()
        holder.wait()


def flip_bytes(path: Path, count: int = 64) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + count] = bytes(b ^ 0xFF for b in data[middle : middle + count])
    path.write_bytes(bytes(data))


def test_a_damaged_checkpoint_is_refused_by_evaluate_and_by_resume(finished, tmp_path, capsys):
    out = copy_of(finished, tmp_path)
    flip_bytes(out / "best.pt")
    flip_bytes(out / "last.pt")
    code, _, error = run(capsys, "evaluate", out / "best.pt")
    assert code == 2 and "best.pt" in error and ("damaged" in error or "not a readable checkpoint" in error)
    before = (out / "results.json").read_bytes()
    code, _, error = run(capsys, "train", "--out", out, "--epochs", "2", "--resume", *TINY)
    assert code == 2 and "last.pt" in error and (out / "results.json").read_bytes() == before
    (tmp_path / "foreign.pt").write_bytes(b"not a checkpoint at all")
    code, _, error = run(capsys, "evaluate", tmp_path / "foreign.pt")
    assert code == 2 and "foreign.pt: not a readable checkpoint" in error


def test_resume_with_other_options_is_refused_listing_each(finished, tmp_path, capsys):
    out = copy_of(finished, tmp_path)
    changed = [a if a != "1e-3" else "0.01" for a in TINY]
    code, _, error = run(
        capsys, "train", "--out", out, "--epochs", "2", "--resume", "--clip-norm", "5", *changed
    )
    assert code == 2 and "--lr 0.001 -> 0.01" in error and "--clip-norm 10.0 -> 5.0" in error
    assert "--allow-config-change" in error
    assert (
        run(
            capsys,
            "train",
            "--out",
            out,
            "--epochs",
            "2",
            "--resume",
            "--clip-norm",
            "5",
            "--allow-config-change",
            *changed,
        )[0]
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert results["changed_on_resume"] == ["--clip-norm 10.0 -> 5.0", "--lr 0.001 -> 0.01"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--mode", "jiont"], "invalid choice: 'jiont'"),
        (["--mask-shape", "boxx"], "invalid choice: 'boxx'"),
        (["--use-hard-negative", "ture"], "'ture' is not a boolean"),
        (["--dropout", "1.5"], "--dropout 1.5: input should be less than 1"),
        (["--epochs", "0"], "--epochs 0: input should be greater than or equal to 1"),
        (["--select-on", "tset"], "invalid choice: 'tset'"),
        (["--heads", "3"], "--hidden 32 is not divisible by --heads 3"),
        (["--amp", "maybe"], "'maybe' is not a boolean"),
        (["--device", "cuda"] if not torch.cuda.is_available() else ["--device", "nonsense"], "--device"),
        (["--data", "missing/"], "missing: no such data folder"),
    ],
)
def test_bad_options_stop_with_one_line(arguments, message, tmp_path, capsys):
    code, _, error = run(capsys, "train", "--out", tmp_path / "run", "--epochs", "1", *TINY, *arguments)
    assert code == 2 and message in error and error.startswith(("error:", "usage:", "python -m")), error


@pytest.mark.parametrize(
    "change, message",
    [
        ({"model": {"config": {"dropout": "0.1"}}}, "--dropout '0.1': input should be a valid number"),
        ({"train": {"max_num_epochs": "1"}}, "--epochs '1': input should be a valid integer"),
        ({"model": {"config": {"hidden_size": 64.0}}}, "--hidden 64.0: input should be a valid integer"),
        ({"cnm_minimal": {"train": {"hiden": 64}}}, "unknown option(s) --hiden"),
    ],
)
def test_bad_values_in_a_config_file_are_named(change, message, tmp_path, capsys):
    config = json.loads((ROOT / "configs" / "charades_sim_full.json").read_text())
    for section, values in change.items():
        target = config[section]["config"] if "config" in values else config[section]
        target.update(values.get("config", values))
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(config))
    code, _, error = run(
        capsys,
        "train",
        "--config",
        path,
        "--data",
        SAMPLE,
        "--feature-file",
        "features.hdf5",
        "--out",
        tmp_path / "run",
    )
    assert code == 2 and message in error, error


def sample_copy(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    return data


def test_nan_features_fail_before_the_first_epoch_naming_the_video(tmp_path, capsys):
    data = sample_copy(tmp_path)
    with h5py.File(data / "features.hdf5", "r+") as f:
        vid = sorted(f)[3]
        values = f[vid][()]
        values[2, 5] = np.nan
        f[vid][...] = values
    code, out, error = run(capsys, "train", "--data", data, "--out", tmp_path / "run", "--epochs", "1", *TINY)
    assert code == 2 and f"video {vid} has NaN or infinite values" in error and "epoch 1" not in out


def test_dropped_rows_are_reported_and_an_empty_split_is_an_error(tmp_path, capsys):
    data = sample_copy(tmp_path)
    test_file = data / "annotations_test.txt"
    lines = test_file.read_text().splitlines()
    vid = lines[0].split()[0]
    test_file.write_text("\n".join(lines + [f"{vid} 0.0 1.0##zzqx qqwx."]) + "\n")  # no known word
    code, out, _ = run(capsys, "train", "--data", data, "--out", tmp_path / "run", "--epochs", "1", *TINY)
    assert code == 0 and "test kept 233, dropped 1 (no known content word)" in out
    report = json.loads((tmp_path / "run" / "results.json").read_text())["data"]["test"]
    assert report == {"kept": 233, "dropped": {"no known content word": 1}, "clipped": 0}
    test_file.write_text(f"{vid} 0.0 1.0##zzqx qqwx.\n")
    code, _, error = run(capsys, "train", "--data", data, "--out", tmp_path / "run2", "--epochs", "1", *TINY)
    assert code == 2 and "annotations_test.txt: the test split has no usable query" in error


def test_bias_reports_a_file_without_prior_hard_queries(tmp_path, capsys):
    rows = [[f"V{i}", 10.0, [0.0, 5.0], "a person opens the door."] for i in range(6)]
    (tmp_path / "train.json").write_text(json.dumps(rows))
    (tmp_path / "test.json").write_text(json.dumps(rows[:2]))
    code, out, _ = run(capsys, "bias", "--train", tmp_path / "train.json", "--test", tmp_path / "test.json")
    assert code == 0 and "0 of 2 test queries are prior-hard" in out and out.rstrip().endswith("-")


def test_real_sentences_train_with_the_real_glove_vocabulary(real_data, tmp_path, capsys):
    """The authors' vocabulary file has no vector for some training words: they become unknown words,
    counted."""
    rows = json.loads((real_data / "cnm_train.json").read_text())[:300]
    tests = json.loads((real_data / "cnm_test.json").read_text())[:100]
    data = tmp_path / "real"
    data.mkdir()
    (data / "cnm_train.json").write_text(json.dumps(rows))
    (data / "cnm_test.json").write_text(json.dumps(tests))
    rng = np.random.default_rng(0)
    with h5py.File(data / "features.hdf5", "w") as f:  # random features: this is about the words
        for vid in sorted({r[0] for r in rows + tests}):
            f[vid] = rng.standard_normal((20, 8)).astype(np.float32)
    code, out, _ = run(
        capsys,
        "train",
        "--data",
        data,
        "--feature-file",
        "features.hdf5",
        "--word-vectors",
        real_data / "charades_glove_vocab.300d.txt",
        "--out",
        tmp_path / "run",
        "--epochs",
        "1",
        *TINY,
    )
    assert code == 0 and "training words without a word vector left out" in out
    missing = json.loads((tmp_path / "run" / "results.json").read_text())["data"]["words_without_vector"]
    assert missing and all(" " not in w for w in missing)


def start(out: Path, resume: bool) -> subprocess.Popen:
    flag = "--resume" if resume else "--overwrite"
    return subprocess.Popen(
        [sys.executable, "-m", "cnm_minimal", "train", "--out", str(out), "--epochs", "3", flag, *TINY],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


@pytest.mark.slow
def test_soak_twenty_kills_at_random_points_then_the_same_parameters(tmp_path):
    reference = start(tmp_path / "reference", resume=False)
    assert reference.wait(timeout=600) == 0, reference.stderr.read()[-2000:]
    out, rng, kills = tmp_path / "killed", random.Random(0), 0
    while kills < 20:
        process = start(out, resume=(out / "last.pt").is_file())
        time.sleep(rng.uniform(0.5, 6.0))
        if process.poll() is not None:  # it finished before this kill: start over
            assert process.returncode == 0, process.stderr.read()[-2000:]
            shutil.rmtree(out)
            continue
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
    while True:
        process = start(out, resume=(out / "last.pt").is_file())
        assert process.wait(timeout=600) == 0, process.stderr.read()[-2000:]
        if json.loads((out / "results.json").read_text())["epochs_run"] == 3:
            break
    a, b = load_checkpoint(tmp_path / "reference" / "last.pt"), load_checkpoint(out / "last.pt")
    assert a["updates"] == b["updates"] and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
