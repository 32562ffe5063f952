"""The trainer (cnm_minimal/train.py): schedule, steps, checkpoints, exact resume after SIGKILL, selection."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cnm_minimal.train import TrainConfig, Trainer, carve_validation, learning_rate_factor, prepare_data

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(num_clips=16, hidden=32, heads=2, video_layers=1, query_layers=1, batch_size=64, warmup_updates=5,
            lr=1e-3, progress=False, device="cpu")


@pytest.fixture(scope="module")
def data():
    return prepare_data(TrainConfig(**TINY))


def test_learning_rate_schedule():
    factor = learning_rate_factor(TrainConfig(lr=4e-4, warmup_updates=400, warmup_init_lr=1e-7))
    assert factor(0) * 4e-4 == pytest.approx(1e-7)
    assert factor(200) * 4e-4 == pytest.approx(1e-7 + 200 * (4e-4 - 1e-7) / 400)
    assert factor(400) * 4e-4 == pytest.approx(4e-4)
    assert factor(1600) * 4e-4 == pytest.approx(8e-3 / 40)


def test_validation_is_carved_by_video():
    from cnm_minimal.data.annotations import Query

    queries = [Query(f"V{i % 20}", 10.0, 0, 1, "a", "x", i) for i in range(60)]
    train, val = carve_validation(queries, 0.25, seed=0)
    assert len(train) + len(val) == 60 and {q.vid for q in train}.isdisjoint({q.vid for q in val})
    assert len({q.vid for q in val}) == 5


def test_each_step_moves_only_its_own_parameters(data, tmp_path):
    trainer = Trainer(TrainConfig(**TINY, out=str(tmp_path)), data)
    batch = next(iter(trainer.loader("train", shuffle=False)))
    head = [p.detach().clone() for p in trainer.generator_params]
    rest = [p.detach().clone() for p in trainer.reconstructor_params]
    trainer.model.train()
    trainer.reconstructor_step(batch)
    assert all(torch.equal(a, b) for a, b in zip(head, trainer.generator_params))
    assert any(not torch.equal(a, b) for a, b in zip(rest, trainer.reconstructor_params))
    rest = [p.detach().clone() for p in trainer.reconstructor_params]
    trainer.generator_step(batch)
    assert all(torch.equal(a, b) for a, b in zip(rest, trainer.reconstructor_params))
    assert any(not torch.equal(a, b) for a, b in zip(head, trainer.generator_params))


def test_generator_step_gradient_equals_the_full_graph(data, tmp_path):
    """Running the trunk without gradients changes nothing: the head's gradient is the full graph's."""
    trainer = Trainer(TrainConfig(**TINY, out=str(tmp_path), dropout=0.0), data)
    batch = next(iter(trainer.loader("train", shuffle=False)))
    model = trainer.model.train()
    trainer.mask_generator.manual_seed(3)
    trainer.optimizers["generator"].step = lambda: None          # keep the parameters: compare gradients only
    trainer.generator_step(batch)
    ours = [p.grad.clone() for p in trainer.generator_params]
    trainer.mask_generator.manual_seed(3)
    clips, words, (slots, sentence, loss_mask, _) = trainer._inputs(batch)
    mask = trainer.mask(*model.generate_mask(clips, words, batch.lengths), slots.shape[1])
    nll = trainer._reconstruct(batch, slots, sentence, loss_mask, {"positive": mask, "hard": None, "easy": 1 - mask})
    full = torch.autograd.grad(trainer.ivc_objective(nll), trainer.generator_params)
    for a, b in zip(ours, full):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_checkpoints_load_with_weights_only_and_selection_is_recorded(data, tmp_path):
    summary = Trainer(TrainConfig(**TINY, out=str(tmp_path), epochs=2), data).run()
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert state["epoch"] == 2 and set(state["optimizers"]) == {"reconstructor", "generator"}
    torch.load(tmp_path / "best.pt", weights_only=True)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["selected_on"] == "val" and 1 <= results["selected_epoch"] <= 2
    assert results["test_at_selected"] == results["history"][results["selected_epoch"] - 1]["test"]
    assert results["provenance"]["seed"] == 0 and "git_commit" in results["provenance"]
    lines = (tmp_path / "predictions_test.jsonl").read_text().splitlines()
    assert len(lines) == len(data.splits["test"]) and {"vid", "predicted", "moment", "iou"} <= set(json.loads(lines[0]))
    assert summary["epochs_run"] == 2
    chosen = results["history"][results["selected_epoch"] - 1]               # chapter 11's metrics, every epoch
    assert results["test_prior_hard_at_selected"] == chosen["test_prior_hard"]
    assert results["test_reversed_at_selected"] == chosen["test_reversed"]
    assert 0 < results["prior_hard_count"] < len(data.splits["test"]) and len(results["constant_window"]) == 2


def test_joint_mode_uses_one_optimiser(data, tmp_path):
    trainer = Trainer(TrainConfig(**TINY, out=str(tmp_path), mode="joint", epochs=1, save_checkpoints=False), data)
    assert set(trainer.optimizers) == {"joint"}
    trainer.run()
    assert trainer.updates == len(trainer.loader("train", shuffle=False))


def run_cli(out: Path, epochs: int, resume: bool = False, **popen):
    args = [sys.executable, "-m", "cnm_minimal.train", "--out", str(out), "--epochs", str(epochs)]
    args += [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()] + (["--resume"] if resume else [])
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, **popen)


def test_sigkill_mid_epoch_then_resume_gives_the_uninterrupted_result(tmp_path):
    epochs = 4
    reference = run_cli(tmp_path / "reference", epochs)
    assert reference.wait(timeout=600) == 0, reference.stderr.read().decode()[-2000:]

    interrupted = tmp_path / "interrupted"
    process = run_cli(interrupted, epochs)
    deadline = time.time() + 600
    while not (interrupted / "results.json").exists() or \
            json.loads((interrupted / "results.json").read_text())["epochs_run"] < 2:
        assert process.poll() is None and time.time() < deadline, "training ended before it could be killed"
        time.sleep(0.05)
    time.sleep(0.3)                                              # now inside epoch 3
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert json.loads((interrupted / "results.json").read_text())["epochs_run"] < epochs
    resumed = run_cli(interrupted, epochs, resume=True)
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read().decode()[-2000:]

    final_a = torch.load(tmp_path / "reference" / "last.pt", weights_only=True)
    final_b = torch.load(interrupted / "last.pt", weights_only=True)
    assert final_a["updates"] == final_b["updates"]
    for name, tensor in final_a["model"].items():
        assert torch.equal(tensor, final_b["model"][name]), name
    a = json.loads((tmp_path / "reference" / "results.json").read_text())
    b = json.loads((interrupted / "results.json").read_text())
    assert [h["test"] for h in a["history"]] == [h["test"] for h in b["history"]]


def test_ablation_runner_writes_one_result_per_run_and_a_table(tmp_path):
    from cnm_minimal.ablations import VARIANTS, run_ablations

    base = TrainConfig(**TINY, epochs=1, out=str(tmp_path))
    table = run_ablations(base, [0], tmp_path, variants=["full", "no_hard"])
    assert set(table) == {"full", "no_hard"} and table["full"]["seeds"] == [0]
    run = json.loads((tmp_path / "no_hard_seed0.json").read_text())
    assert run["config"]["use_hard_negative"] is False and "provenance" in run
    assert set(VARIANTS) == {"full", "no_gaussian", "no_hard", "no_easy", "no_negatives", "joint"}
    assert set(table["full"]) >= {"mean", "prior_hard_mean", "reversed_mean", "std", "prior_hard_std", "reversed_std"}
    mtime = (tmp_path / "full_seed0.json").stat().st_mtime
    run_ablations(base, [0], tmp_path, variants=["full"])                 # finished runs are not repeated
    assert (tmp_path / "full_seed0.json").stat().st_mtime == mtime
