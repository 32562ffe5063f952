"""Fault injection, second round: resume, overwrite and reruns that never lose or mislabel work, and inputs
that fail early with one line. One test per probe of the second reliability table (its row in the docstring).
"""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_faults import ROOT, SAMPLE, TINY, copy_of, run

from cnm_minimal.__main__ import main
from cnm_minimal.checkpoints import load_checkpoint


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished one-epoch run of the tiny model on the sample (copied by the tests that change it)."""
    out = tmp_path_factory.mktemp("finished")
    assert main(["train", "--out", str(out), "--epochs", "1", *TINY]) == 0
    return out


def sample_copy(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    return data


def train_args(data: Path) -> list[str]:
    """TINY with the data folder replaced."""
    return [*TINY, "--data", str(data)]


# Bad: wrong results or lost work
# ----------------------------------------------------------------------------------


def test_resume_with_a_new_learning_rate_follows_the_new_schedule(finished, tmp_path, capsys):
    """Row 1: --resume --allow-config-change --lr recorded the new lr but trained on the old schedule."""
    out = copy_of(finished, tmp_path)
    code, _, _ = run(
        capsys,
        "train",
        "--out",
        out,
        "--epochs",
        "2",
        "--resume",
        "--allow-config-change",
        *TINY[:-4],
        "--lr",
        "2e-3",
        "--device",
        "cpu",
    )
    assert code == 0
    state = load_checkpoint(out / "last.pt")
    assert all(base == 2e-3 for s in state["schedulers"].values() for base in s["base_lrs"])
    updates, warmup = state["updates"], 5
    expected = (
        2e-3 * math.sqrt(warmup / updates) if updates >= warmup else None
    )  # Eq. 9.3 after the last step
    second = json.loads((out / "results.json").read_text())["history"][1]
    assert expected is not None and second["lr"] == pytest.approx(expected, rel=1e-6)


def test_resume_on_other_training_annotations_is_refused(finished, tmp_path, capsys):
    """Row 2: --resume with --data holding other training annotations trained on them silently."""
    out, data = copy_of(finished, tmp_path), sample_copy(tmp_path)
    lines = (data / "annotations_train.txt").read_text().splitlines(keepends=True)
    (data / "annotations_train.txt").write_text("".join(lines[:300]))
    before = (out / "last.pt").read_bytes()
    code, _, error = run(capsys, "train", "--out", out, "--epochs", "2", "--resume", *train_args(data))
    assert code == 2 and "annotations_train.txt" in error and "--resume" in error
    assert (out / "last.pt").read_bytes() == before


def test_evaluate_warns_when_the_test_annotations_changed(finished, tmp_path, capsys):
    """Row 3: evaluate scored a changed test file with no word that it differs from the one trained on."""
    data = sample_copy(tmp_path)
    lines = (data / "annotations_test.txt").read_text().splitlines(keepends=True)
    (data / "annotations_test.txt").write_text("".join(lines[:100]))
    capsys.readouterr()
    assert main(["evaluate", str(finished / "best.pt"), "--data", str(data), "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    assert "warning:" in err and "annotations_test.txt" in err and "differs" in err
    assert "on " in out  # it still evaluates: the result is right for that file


def test_word_vectors_with_nan_fail_when_read_naming_file_line_and_word(tmp_path, capsys):
    """Row 4: a word-vector file with nan values trained a whole epoch on NaN."""
    data = sample_copy(tmp_path)
    lines = (data / "word_vectors.txt").read_text().splitlines()
    word = lines[3].split(" ")[0]
    lines[3] = word + " nan" + lines[3][len(word) + len(lines[3].split(" ")[1]) + 1 :]
    (data / "word_vectors.txt").write_text("\n".join(lines) + "\n")
    code, _, error = run(capsys, "train", "--out", tmp_path / "run", "--epochs", "1", *train_args(data))
    assert code == 2 and "word_vectors.txt:4" in error and repr(word) in error and "not finite" in error
    assert not (tmp_path / "run" / "results.json").exists()


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1e-3"])
def test_a_learning_rate_that_is_not_finite_and_positive_is_refused(value, tmp_path, capsys):
    """Row 4: --lr inf passed validation and ended in NaN."""
    code, _, error = run(
        capsys,
        "train",
        "--out",
        tmp_path / "run",
        "--epochs",
        "1",
        *TINY[:-4],
        "--lr",
        value,
        "--device",
        "cpu",
    )
    assert code == 2 and "--lr" in error


def test_simulate_refuses_a_folder_holding_files_it_did_not_write(tmp_path, capsys):
    """Row 5: simulate sample --out DIR replaced a user's annotation files silently."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "annotations_train.txt").write_text("my own annotations\n")
    code, _, error = run(capsys, "simulate", "sample", "--out", mine, "--num-videos", "12")
    assert code == 2 and str(mine) in error and "annotations_train.txt" in error
    assert (mine / "annotations_train.txt").read_text() == "my own annotations\n"
    fresh = tmp_path / "fresh"
    assert run(capsys, "simulate", "sample", "--out", fresh, "--num-videos", "12")[0] == 0
    assert (
        run(capsys, "simulate", "sample", "--out", fresh, "--num-videos", "12")[0] == 0
    )  # its own: rewritten


def test_ablations_do_not_reuse_a_seed_run_with_other_options(tmp_path, capsys):
    """Row 6: ablations rerun with other options printed the old results as the new ones."""
    base = ["ablations", "--seeds", "0", "--variants", "full", "--out", tmp_path / "abl", *TINY]
    assert run(capsys, *base, "--epochs", "1")[0] == 0
    first = (tmp_path / "abl" / "full_seed0.json").read_bytes()
    code, _, error = run(capsys, *base, "--epochs", "2")
    assert code == 2 and "full_seed0.json" in error and "--epochs 1 -> 2" in error and "--overwrite" in error
    assert (tmp_path / "abl" / "full_seed0.json").read_bytes() == first
    assert run(capsys, *base, "--epochs", "1")[0] == 0  # the same options: reused
    assert run(capsys, *base, "--epochs", "2", "--overwrite")[0] == 0
    assert json.loads((tmp_path / "abl" / "full_seed0.json").read_text())["epochs_run"] == 2


@pytest.mark.parametrize("bad", [["--data", "/no/such/folder"], ["--device", "cuda:7"]])
def test_overwrite_validates_everything_before_it_touches_the_old_run(bad, finished, tmp_path, capsys):
    """Row 7: train --overwrite with a bad --data or --device deleted the old run before failing."""
    out = copy_of(finished, tmp_path)
    before = {name: (out / name).read_bytes() for name in ("last.pt", "best.pt", "results.json")}
    code, _, error = run(capsys, "train", "--out", out, "--epochs", "1", "--overwrite", *TINY[:-2], *bad)
    assert code == 2 and error.startswith("error:")
    assert {name: (out / name).read_bytes() for name in before} == before


# Weak: the user is misled or sees a traceback
# ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, option",
    [
        (["--hidden", "48"], "--hidden"),
        (["--kept-words", "60"], "vocabulary"),
        (["--num-clips", "8"], "--num-clips"),
    ],
)
def test_resume_refuses_a_change_it_cannot_apply(change, option, finished, tmp_path, capsys):
    """--resume --allow-config-change --hidden 32 (or another vocabulary): a state_dict traceback."""
    out = copy_of(finished, tmp_path)
    args = [a for a in TINY]
    for name, value in zip(change[::2], change[1::2]):
        if name in args:
            args[args.index(name) + 1] = value
        else:
            args += [name, value]
    code, _, error = run(
        capsys, "train", "--out", out, "--epochs", "2", "--resume", "--allow-config-change", *args
    )
    assert code == 2 and option in error and "cannot" in error


@pytest.mark.parametrize(
    "edit, named",
    [
        (lambda c: c["model"]["config"].__setitem__("hiden_size", 64), "model.config.hiden_size"),
        (
            lambda c: c["train"]["reconstructor"].__setitem__("weight_decay", 0.01),
            "train.reconstructor.weight_decay",
        ),
        (
            lambda c: c["model"]["config"]["DualTransformer"].__setitem__("dropout", 0.5),
            "model.config.DualTransformer.dropout",
        ),
    ],
)
def test_a_config_key_the_trainer_does_not_honour_is_an_error(edit, named, tmp_path, capsys):
    """Keys of a config JSON the trainer ignores (a typo, weight_decay, the transformer's own dropout):
    silent."""
    config = json.loads((ROOT / "configs" / "charades_sim_full.json").read_text())
    edit(config)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    code, _, error = run(
        capsys, "train", "--config", path, "--out", tmp_path / "run", "--epochs", "1", "--data", SAMPLE, *TINY
    )
    assert code == 2 and str(path) in error and named in error


def test_a_device_torch_lacks_is_one_line(tmp_path, capsys):
    """--device mps (or any device torch lacks here): a RuntimeError traceback."""
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        pytest.skip("this machine has an MPS device")
    code, _, error = run(
        capsys, "train", "--out", tmp_path / "run", "--epochs", "1", *TINY[:-2], "--device", "mps"
    )
    assert code == 2 and "--device mps" in error and "cpu" in error


def test_an_empty_data_folder_says_what_is_missing(tmp_path, capsys):
    """--data pointing at an empty folder blamed a missing --feature-file."""
    (tmp_path / "empty").mkdir()
    code, _, error = run(
        capsys, "train", "--out", tmp_path / "run", "--epochs", "1", *TINY, "--data", tmp_path / "empty"
    )
    assert code == 2 and "no annotation files" in error and "download" in error


def test_a_full_disk_names_the_file_and_the_rerun_is_not_a_loop(finished, tmp_path, capsys, monkeypatch):
    """A full disk: [Errno 28] without the path; then a plain rerun and --resume pointed at each other."""
    import cnm_minimal.atomic as atomic

    real_replace = os.replace

    def full(src, dst):
        if str(dst).endswith("results.json"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", full)
    code, _, error = run(
        capsys, "train", "--out", tmp_path / "run", "--epochs", "1", *TINY, "--save-checkpoints", "false"
    )
    assert code == 2 and "results.json" in error and "No space left on device" in error
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    code, _, error = run(capsys, "train", "--out", tmp_path / "run", "--epochs", "1", *TINY)
    assert code == 2 or code == 0
    if code == 2:  # a folder without last.pt is not sent to --resume
        assert "--overwrite" in error and "--resume" not in error.split("(")[0]


def test_ctrl_c_says_that_resume_continues(tmp_path):
    """Ctrl-C: a KeyboardInterrupt traceback and no hint that --resume continues."""
    out = tmp_path / "run"
    # A process started in the background inherits an ignored SIGINT (a CI job, nohup): Ctrl-C's handler is
    # restored first, as an interactive shell has it.
    start = (
        "import signal, sys\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from cnm_minimal.__main__ import main\nsys.exit(main(sys.argv[1:]))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", start, "train", "--out", str(out), "--epochs", "50", *TINY],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    for line in process.stdout:
        if line.startswith("epoch 1/"):
            break
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "Traceback" not in err and "--resume" in err.strip().splitlines()[-1]


def test_an_empty_word_vector_file_is_named(tmp_path, capsys):
    """An empty word-vector file was blamed on the annotations ("dropped 706 (no known content word)")."""
    data = sample_copy(tmp_path)
    (data / "word_vectors.txt").write_text("")
    code, _, error = run(capsys, "train", "--out", tmp_path / "run", "--epochs", "1", *train_args(data))
    assert code == 2 and "word_vectors.txt" in error and "no word vectors" in error


def test_trailing_spaces_in_a_word_vector_file_are_read(tmp_path, capsys):
    """A trailing space on each vector line gave "a value of word '.' is not a number"."""
    data = sample_copy(tmp_path)
    text = (data / "word_vectors.txt").read_text()
    (data / "word_vectors.txt").write_text("".join(line + " \n" for line in text.splitlines()))
    assert run(capsys, "train", "--out", tmp_path / "run", "--epochs", "1", *train_args(data))[0] == 0


def test_annotations_with_a_byte_order_mark_are_read(tmp_path, capsys):
    """An annotation file with a UTF-8 BOM: "a video with no known duration" (the BOM is invisible)."""
    data = sample_copy(tmp_path)
    for name in ("annotations_train.txt", "durations.csv"):
        (data / name).write_bytes(b"\xef\xbb\xbf" + (data / name).read_bytes())
    assert run(capsys, "train", "--out", tmp_path / "run", "--epochs", "1", *train_args(data))[0] == 0


def test_an_annotation_file_that_is_not_utf8_names_file_and_line(tmp_path, capsys):
    """A Latin-1 file: 'utf-8' codec can't decode byte 0xe9, with no file or line."""
    data = sample_copy(tmp_path)
    lines = (data / "annotations_train.txt").read_bytes().splitlines(keepends=True)
    lines[6] = lines[6].replace(b"person", "personn\u00e9".encode("latin-1"), 1)
    (data / "annotations_train.txt").write_bytes(b"".join(lines))
    code, _, error = run(capsys, "train", "--out", tmp_path / "run", "--epochs", "1", *train_args(data))
    assert code == 2 and "annotations_train.txt:7" in error and "UTF-8" in error


def test_a_duplicated_video_in_the_durations_is_refused(tmp_path, capsys):
    """A durations CSV with one id twice (30.0 and 12.0): the last won silently."""
    data = sample_copy(tmp_path)
    lines = (data / "durations.csv").read_text().splitlines()
    vid = lines[1].split(",")[0]
    (data / "durations.csv").write_text("\n".join(lines + [f"{vid},12.0"]) + "\n")
    code, _, error = run(capsys, "train", "--out", tmp_path / "run", "--epochs", "1", *train_args(data))
    assert code == 2 and f"durations.csv:{len(lines) + 1}" in error and vid in error and "line 2" in error


def test_bias_names_bad_test_rows(tmp_path, capsys):
    """bias --test: an end after the video was clipped silently; start > end gave numpy warnings and then
    "num_queries must be at least 1, got 0" naming no file."""
    rows = [
        {"video": "v1", "duration": 30.0, "timestamp": [2.0, 40.0], "sentence": "a person sits"},
        {"video": "v2", "duration": 30.0, "timestamp": [1.0, 9.0], "sentence": "a person opens a door"},
    ]
    train = tmp_path / "train.json"
    train.write_text(json.dumps([[r["video"], r["duration"], [1.0, 10.0], r["sentence"]] for r in rows]))
    clipped = tmp_path / "clipped.json"
    clipped.write_text(json.dumps([[r["video"], r["duration"], r["timestamp"], r["sentence"]] for r in rows]))
    code, out, _ = run(capsys, "bias", "--train", train, "--test", clipped)
    assert code == 0 and "clipped 1" in out
    backwards = tmp_path / "backwards.json"
    backwards.write_text(json.dumps([["v1", 30.0, [12.0, 3.0], "a person sits"]]))
    code, _, error = run(capsys, "bias", "--train", train, "--test", backwards)
    assert code == 2 and str(backwards) in error and "start" in error


def test_evaluate_counts_the_rows_its_policy_drops(finished, tmp_path, capsys):
    """evaluate on a file with a policy-dropped row printed "0 dropped"."""
    data = sample_copy(tmp_path)
    with open(data / "annotations_test.txt", "a") as handle:
        handle.write("S00000 10.0 400.0##a person runs past the end of the video.\n")
    capsys.readouterr()
    assert main(["evaluate", str(finished / "best.pt"), "--data", str(data), "--device", "cpu"]) == 0
    assert "1 dropped" in capsys.readouterr().out


@pytest.mark.parametrize("content", [b"this is not a checkpoint\n", None])
def test_import_official_on_a_file_that_is_not_a_checkpoint_is_one_line(content, finished, tmp_path, capsys):
    """import-official on a file that is not a torch checkpoint, or a truncated one: tracebacks."""
    source = tmp_path / "model-best.pt"
    if content is None:  # a torch file cut in half
        torch.save({"model_state_dict": {"w": torch.zeros(1000)}}, source)
        source.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    else:
        source.write_bytes(content)
    code, _, error = run(capsys, "import-official", source, "--out", tmp_path / "ours.pt", "--data", SAMPLE)
    assert code == 2 and str(source) in error and not (tmp_path / "ours.pt").exists()
