"""The trainer (cnm_minimal/train.py): schedule, steps, self-describing checkpoints, exact resume,
selection."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnm_minimal import config, train
from cnm_minimal.checkpoints import load_checkpoint, model_from_checkpoint
from cnm_minimal.config import TrainConfig
from cnm_minimal.data.annotations import Query
from cnm_minimal.data.files import carve_validation

ROOT = Path(__file__).resolve().parents[1]
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
)


def tiny(**changes) -> TrainConfig:
    return TrainConfig.build(**TINY | changes)


@pytest.fixture(scope="module")
def data():
    return train.prepare_data(tiny())


def test_learning_rate_schedule():
    factor = config.learning_rate_factor(TrainConfig(lr=4e-4, warmup_updates=400, warmup_init_lr=1e-7))
    assert factor(0) * 4e-4 == pytest.approx(1e-7)
    assert factor(200) * 4e-4 == pytest.approx(1e-7 + 200 * (4e-4 - 1e-7) / 400)
    assert factor(400) * 4e-4 == pytest.approx(4e-4)
    assert factor(1600) * 4e-4 == pytest.approx(8e-3 / 40)


def test_validation_is_carved_by_video():
    queries = [Query(f"V{i % 20}", 10.0, 0, 1, "a", "x", i) for i in range(60)]
    kept, val = carve_validation(queries, 0.25, seed=0)
    assert len(kept) + len(val) == 60 and {q.vid for q in kept}.isdisjoint({q.vid for q in val})
    assert len({q.vid for q in val}) == 5


def first_batch(run):
    loader = train.distributed.train_loader(
        run.data.splits["train"], run.config.batch_size, train.Collate(run.data.embeddings), seed=0
    )
    return next(iter(loader))


def test_each_step_moves_only_its_own_parameters(data, tmp_path):
    run = train.start_run(tiny(out=str(tmp_path)), data)
    batch, model = first_batch(run), run.model.train()
    head = [p.detach().clone() for p in model.head_parameters()]
    rest = [p.detach().clone() for p in model.reconstructor_parameters()]
    train.reconstructor_step(run, batch)
    assert all(torch.equal(a, b) for a, b in zip(head, model.head_parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(rest, model.reconstructor_parameters()))
    rest = [p.detach().clone() for p in model.reconstructor_parameters()]
    train.generator_step(run, batch)
    assert all(torch.equal(a, b) for a, b in zip(rest, model.reconstructor_parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(head, model.head_parameters()))


@pytest.mark.parametrize(
    "variant",
    [{}, {"use_hard_negative": False}, {"use_easy_negative": False}, {"mask_shape": "box"}],
    ids=["full", "no_hard", "no_easy", "box"],
)
def test_step_b_shortcut_gives_the_head_gradient_of_the_full_forward(data, tmp_path, variant):
    """Step B runs the trunk without autograd; the head's gradient is still that of the full forward's
    L_IVC."""
    run = train.start_run(tiny(out=str(tmp_path), dropout=0.0, **variant), data)
    batch, model = first_batch(run), run.model.train()
    head = model.head_parameters()
    shortcut = torch.autograd.grad(model.generator_loss(batch, torch.Generator().manual_seed(3)), head)
    out = model(
        batch.frames,
        batch.words,
        batch.word_ids,
        batch.lengths,
        batch.weights,
        rng=torch.Generator().manual_seed(3),
    )
    full = torch.autograd.grad(out.ivc_loss, head)
    for a, b in zip(shortcut, full):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    rec = model.reconstructor_loss(batch, torch.Generator().manual_seed(3))
    torch.testing.assert_close(rec, out.rec_loss, rtol=1e-5, atol=1e-6)  # step A's objective is Eq. 8


def test_checkpoints_describe_themselves_and_selection_is_recorded(data, tmp_path):
    lines = []
    summary = train.fit(tiny(out=str(tmp_path), epochs=2), data, log=lines.append)
    assert (
        len(lines) == 3
        and lines[0].startswith("data: train kept")
        and lines[2].startswith("epoch 2/2  L_rec ")
    )
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["epoch"] == 2 and set(state["optimizers"]) == {"reconstructor", "generator"}
    model, vocabulary, embeddings, best = model_from_checkpoint(tmp_path / "best.pt")
    assert vocabulary == data.vocabulary and embeddings.shape == data.embeddings.shape
    assert best["model_config"]["hidden"] == 32 and best["data_fingerprint"]["annotations"]["train"]["sha256"]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["selected_on"] == "val" and results["selected_epoch"] == best["epoch"]
    assert results["test_at_selected"] == results["history"][results["selected_epoch"] - 1]["test"]
    assert results["provenance"]["seed"] == 0 and "git_commit" in results["provenance"]
    records = (tmp_path / "predictions_test.jsonl").read_text().splitlines()
    assert len(records) == len(data.splits["test"]) and {"vid", "predicted", "moment", "iou"} <= set(
        json.loads(records[0])
    )
    chosen = results["history"][results["selected_epoch"] - 1]
    assert results["test_prior_hard_at_selected"] == chosen["test_prior_hard"]
    assert results["test_reversed_at_selected"] == chosen["test_reversed"]
    assert 0 < results["prior_hard_count"] < len(data.splits["test"]) and summary["epochs_run"] == 2


def test_joint_mode_uses_one_optimiser(data, tmp_path):
    run = train.start_run(tiny(out=str(tmp_path), mode="joint", epochs=1, save_checkpoints=False), data)
    assert set(run.optimizers) == {"joint"}
    train.train_epoch(run)
    assert run.updates == -(-len(data.splits["train"]) // 64)


def start_cli(out: Path, epochs: int, resume: bool = False):
    args = [sys.executable, "-m", "cnm_minimal", "train", "--out", str(out), "--epochs", str(epochs)]
    args += [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()] + (["--resume"] if resume else [])
    return subprocess.Popen(
        args,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_uninterrupted_result(tmp_path):
    epochs = 4
    reference = start_cli(tmp_path / "reference", epochs)
    assert reference.wait(timeout=600) == 0, reference.stderr.read()[-2000:]

    interrupted = tmp_path / "interrupted"
    process = start_cli(interrupted, epochs)
    for line in process.stdout:  # the trainer's own marker: epoch 2's log line
        if line.startswith(f"epoch 2/{epochs}"):
            process.send_signal(signal.SIGKILL)  # written after epoch 2's checkpoint, so epoch 3 is lost
            break
    process.wait()
    assert process.returncode == -signal.SIGKILL, "training ended before it could be killed"
    assert json.loads((interrupted / "results.json").read_text())["epochs_run"] < epochs
    resumed = start_cli(interrupted, epochs, resume=True)
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()[-2000:]

    final_a = load_checkpoint(tmp_path / "reference" / "last.pt")
    final_b = load_checkpoint(interrupted / "last.pt")
    assert final_a["updates"] == final_b["updates"]
    for name, tensor in final_a["model"].items():
        assert torch.equal(tensor, final_b["model"][name]), name
    a = json.loads((tmp_path / "reference" / "results.json").read_text())
    b = json.loads((interrupted / "results.json").read_text())
    assert [h["test"] for h in a["history"]] == [h["test"] for h in b["history"]]


def test_ablation_runner_writes_one_result_per_run_and_a_table(tmp_path):
    from cnm_minimal.ablations import run_ablations

    base = tiny(epochs=1, out=str(tmp_path))
    table = run_ablations(base, [0], tmp_path, variants=["full", "no_hard"])
    assert set(table) == {"full", "no_hard"} and table["full"]["seeds"] == [0]
    run = json.loads((tmp_path / "no_hard_seed0.json").read_text())
    assert run["config"]["model"]["use_hard_negative"] is False and "provenance" in run
    assert set(table["full"]) >= {
        "mean",
        "prior_hard_mean",
        "reversed_mean",
        "std",
        "prior_hard_std",
        "reversed_std",
    }
    mtime = (tmp_path / "full_seed0.json").stat().st_mtime
    run_ablations(base, [0], tmp_path, variants=["full"])  # finished runs are not repeated
    assert (tmp_path / "full_seed0.json").stat().st_mtime == mtime


def test_an_interrupted_ablation_run_continues_from_its_checkpoint(tmp_path):
    from cnm_minimal.ablations import run_ablations

    class Interrupted(Exception):
        pass

    def stop_after_epoch_1(line):
        if line.startswith("epoch 1/2"):
            raise Interrupted

    whole = run_ablations(tiny(epochs=2, out=str(tmp_path / "a")), [0], tmp_path / "a", variants=["full"])
    folder = tmp_path / "b" / "runs" / "full_seed0"  # where the runner keeps that run
    with pytest.raises(Interrupted):
        train.fit(tiny(epochs=2, seed=0, out=str(folder), progress=False), log=stop_after_epoch_1)
    assert (folder / "last.pt").is_file() and not (tmp_path / "b" / "full_seed0.json").exists()
    resumed = run_ablations(tiny(epochs=2, out=str(tmp_path / "b")), [0], tmp_path / "b", variants=["full"])
    assert resumed["full"]["mean"] == whole["full"]["mean"]
    a = json.loads((tmp_path / "a" / "full_seed0.json").read_text())
    b = json.loads((tmp_path / "b" / "full_seed0.json").read_text())
    assert [h["val"] for h in a["history"]] == [h["val"] for h in b["history"]]
