"""Training CNM: two optimisers taking turns on every batch, selection on validation (chapter 9).

Per batch (the authors' scheme; the objectives are the model's own, :mod:`cnm_minimal.model`):

A. :func:`reconstructor_step`: every parameter but the Gaussian head takes a step on ``L_rec`` (Eq. 8); the
   gradient also flows through the mask into the generator's transformer (the head itself is frozen);
B. :func:`generator_step`: only the Gaussian head takes a step on ``L_IVC`` (Eq. 9) (``generator_updates``
   steps per batch: the authors take one; chapter 10 tries more).

Both learning rates warm up linearly over 400 updates from 1e-7 to 4e-4, then decay as ``4e-4 sqrt(400 / n)``;
each step clips its own parameters' gradients at 10. ``mode="joint"`` is the paper's ablation: one optimiser
on ``L_rec + L_IVC``; it is also how CPL trains (:mod:`cnm_minimal.cpl`). After every epoch the run is
evaluated, checkpointed atomically and logged in one line; ``resume=True`` continues from ``last.pt``
(:mod:`cnm_minimal.resume`). The epoch kept is the best on validation.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from cnm_minimal import distributed, registry
from cnm_minimal.atomic import write_json
from cnm_minimal.baselines import best_constant_window
from cnm_minimal.checkpoints import clear_run, load_checkpoint, provenance, run_folder, save_checkpoint
from cnm_minimal.config import TrainConfig, learning_rate_factor
from cnm_minimal.data.dataset import Collate
from cnm_minimal.data.files import DatasetFiles, PreparedData, prepare_splits
from cnm_minimal.evaluate import evaluate_model, save_predictions
from cnm_minimal.hardware import autocast, bf16_is_fast, peak_memory_gb, pick_device
from cnm_minimal.resume import Run, check_same_data, checkpoint, restore, resume_changes


def prepare_data(config: TrainConfig) -> PreparedData:
    """The data set of ``config.data``: vocabulary from the training sentences, the three splits."""
    files = DatasetFiles.detect(config.data, config.feature_file, config.word_vectors, config.feature_layout)
    files = files.with_charades_cd(config.cd_splits) if config.cd_splits else files
    return prepare_splits(
        files,
        config.kept_words,
        config.num_clips,
        config.model.max_words,
        config.val_fraction,
        config.seed,
        config.cache_features,
        config.reverse_fraction,
    )


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def start_run(config: TrainConfig, data: PreparedData | None = None) -> Run:
    """Data, model (seeded), optimisers and schedules of a new run."""
    device = pick_device(config.device)
    data = data or prepare_data(config)
    seed_everything(config.seed)
    model_config = replace(
        config.model,
        frame_dim=data.feature_dim,
        word_dim=data.embeddings.shape[1],
        vocab_size=len(data.vocabulary),
    )
    model = registry.get(config.architecture).model(model_config).to(device)
    distributed.broadcast_parameters(model)
    groups = (
        {"joint": list(model.parameters())}
        if config.mode == "joint"
        else {"reconstructor": model.reconstructor_parameters(), "generator": model.head_parameters()}
    )
    optimizers = {
        k: torch.optim.Adam(v, lr=config.lr, betas=(0.9, 0.999), eps=1e-8) for k, v in groups.items()
    }
    schedulers = {
        k: torch.optim.lr_scheduler.LambdaLR(o, learning_rate_factor(config)) for k, o in optimizers.items()
    }
    moments = np.array([q.moment for q in data.splits["train"].queries]).reshape(-1, 2)
    return Run(config, data, model, optimizers, schedulers, device, best_constant_window(moments))


def update(run: Run, loss: torch.Tensor, name: str, parameters: list) -> float:
    """One optimiser step on ``loss``: zero, backward, average over processes, clip, step."""
    run.optimizers[name].zero_grad(set_to_none=True)
    loss.backward()
    distributed.average_gradients(parameters)
    torch.nn.utils.clip_grad_norm_(parameters, run.config.clip_norm)
    run.optimizers[name].step()
    return loss.item()


def reconstructor_step(run: Run, batch) -> float:
    """Step A: ``L_rec`` on everything but the mask head."""
    with autocast(run.device, run.config.amp):
        loss = run.model.reconstructor_loss(batch, run.word_rng)
    return update(run, loss, "reconstructor", run.model.reconstructor_parameters())


def generator_step(run: Run, batch) -> float:
    """Step B: ``L_IVC`` on the mask head only."""
    with autocast(run.device, run.config.amp):
        loss = run.model.generator_loss(batch, run.word_rng)
    return update(run, loss, "generator", run.model.head_parameters())


def joint_step(run: Run, batch) -> tuple[float, float]:
    """One optimiser on ``L_rec + L_IVC`` of the model's training pass: CNM's joint ablation, and CPL's only
    scheme."""
    with autocast(run.device, run.config.amp):
        out = run.model.training_pass(batch, run.word_rng)
    update(run, out.rec_loss + out.ivc_loss, "joint", list(run.model.parameters()))
    return out.rec_loss.item(), out.ivc_loss.item()


def train_epoch(run: Run) -> np.ndarray:
    """One pass over the training split; returns the mean ``(L_rec, L_IVC)``."""
    c, rank = run.config, distributed.rank_and_world()[0]
    epoch_seed = c.seed * 1000 + run.epoch
    seed_everything(epoch_seed + 7919 * rank)  # each process its own dropout and masked words
    run.word_rng.manual_seed(epoch_seed + 500 + 7919 * rank)
    batches = distributed.train_loader(
        run.data.splits["train"],
        c.batch_size,
        Collate(run.data.embeddings),
        epoch_seed,
        num_workers=c.num_workers,
        pin_memory=run.device.type == "cuda",
    )
    if c.progress and rank == 0:
        from tqdm import tqdm

        batches = tqdm(batches, desc=f"epoch {run.epoch + 1}/{c.epochs}", leave=False)
    run.model.train()
    run.model.begin_epoch(run.epoch + 1, c.epochs)
    totals, steps = np.zeros(2), 0
    for batch in batches:
        batch = batch.to(run.device, non_blocking=True)
        if c.mode == "joint":
            totals += joint_step(run, batch)
        else:
            step_a = reconstructor_step(run, batch)
            step_b = [generator_step(run, batch) for _ in range(c.generator_updates)]
            totals += (step_a, step_b[0])
        steps += 1
        run.updates += 1
        for scheduler in run.schedulers.values():
            scheduler.step()
    return totals / max(steps, 1)


def fit(
    config: TrainConfig,
    data: PreparedData | None = None,
    resume: bool = False,
    log=print,
    overwrite: bool = False,
    allow_changes: bool = False,
) -> dict:
    """Train for ``config.epochs`` epochs into ``config.out`` (continuing from its ``last.pt`` if ``resume``,
    replacing a finished run only if ``overwrite``); returns the summary."""
    rank = distributed.rank_and_world()[0]
    folder = run_folder(config.out, resume, overwrite) if rank == 0 else contextlib.nullcontext()
    with folder:
        run = start_run(config, data)  # the device and the data are checked before anything else
        if resume:
            state = load_checkpoint(Path(config.out) / "last.pt", run.device)
            run.changes = resume_changes(state["train_config"], config, allow_changes)
            check_same_data(run, state)
            restore(run, state)
        elif overwrite and rank == 0:
            clear_run(config.out)
        log(data_report(run.data))
        if config.amp is True and not bf16_is_fast(run.device):
            log(f"warning: --amp true on {run.device}, which lacks bfloat16 units: slower (use --amp auto)")
        start = time.perf_counter() - (run.history[-1]["wall_s"] if run.history else 0.0)
        while run.epoch < config.epochs:
            losses = train_epoch(run)
            run.epoch += 1
            end_of_epoch(run, losses, time.perf_counter() - start, log)
        return summary(run)


def data_report(data: PreparedData) -> str:
    """One line: the queries kept and dropped (by reason) in each split, and the words without a vector."""
    parts = [f"{name} {d.report}" for name, d in data.splits.items()]
    missing = (
        f"; {len(data.without_vector)} training words without a word vector left out"
        if data.without_vector
        else ""
    )
    return "data: " + "; ".join(parts) + missing


def end_of_epoch(run: Run, losses: np.ndarray, wall: float, log) -> None:
    """Evaluate, select, checkpoint and log one line (rank 0 writes: all processes hold the same
    parameters)."""
    c, rank = run.config, distributed.rank_and_world()[0]
    record, predictions = evaluate_model(run.model, run.data, run.constant_window, run.device, c.batch_size)
    record = (
        {
            "epoch": run.epoch,
            "updates": run.updates,
            "rec_loss": float(losses[0]),
            "ivc_loss": float(losses[1]),
            "lr": float(next(iter(run.schedulers.values())).get_last_lr()[0]),
        }
        | record
        | {"wall_s": wall, "peak_memory_gb": peak_memory_gb(run.device)}
    )
    if distributed.rank_and_world()[1] > 1:
        record |= {
            "world_size": distributed.rank_and_world()[1],
            "ranks_in_sync": distributed.ranks_in_sync(run.model),
        }
    run.history.append(record)
    improved = run.best is None or record[c.select_on]["mIoU"] > run.best["score"]
    if improved:
        run.best = {"epoch": run.epoch, "score": record[c.select_on]["mIoU"]}
    if rank == 0:
        out = Path(c.out)
        if improved:
            if c.save_checkpoints:
                save_checkpoint(out / "best.pt", checkpoint(run))
            save_predictions(out / "predictions_test.jsonl", predictions, run.data.splits["test"].queries)
        if c.save_checkpoints:
            save_checkpoint(out / "last.pt", checkpoint(run, resumable=True))
        write_json(out / "results.json", summary(run))
        log(
            f"epoch {run.epoch}/{c.epochs}  L_rec {losses[0]:.4f}  L_IVC {losses[1]:.4f}  lr "
            f"{record['lr']:.2e}  "
            f"val mIoU {100 * record['val']['mIoU']:.2f}  test mIoU {100 * record['test']['mIoU']:.2f}"
            f"{'  (best)' if improved else ''}  {wall:.0f} s"
        )
    distributed.barrier()


def summary(run: Run) -> dict:
    """``results.json``: the selected epoch's metrics, the best-on-test epoch for comparison, the history."""
    if not run.history:
        return {}
    chosen = run.history[run.best["epoch"] - 1]
    by_test = max(run.history, key=lambda r: r["test"]["mIoU"])
    return {
        "config": asdict(run.config),
        "provenance": provenance(run.config.seed, run.device),
        "epochs_run": run.epoch,
        "updates": run.updates,
        "wall_s": run.history[-1]["wall_s"],
        "selected_on": run.config.select_on,
        "selected_epoch": chosen["epoch"],
        "val_at_selected": chosen["val"],
        "test_at_selected": chosen["test"],
        "constant_window": [float(x) for x in run.constant_window],
        "test_prior_hard_at_selected": chosen["test_prior_hard"],
        "prior_hard_count": chosen["prior_hard_count"],
        "test_reversed_at_selected": chosen["test_reversed"],
        "centre_correlation_at_selected": chosen.get("centre_correlation"),
        "val_gaps_at_selected": chosen.get("val_gaps"),
        "extra_at_selected": {k: chosen[k] for k in sorted(set(run.data.splits) - {"train", "val", "test"})},
        "best_test_epoch": by_test["epoch"],
        "test_at_best_test_epoch": by_test["test"],
        "data": {name: d.report.as_dict() for name, d in run.data.splits.items()}
        | {"words_without_vector": list(run.data.without_vector)},
        "changed_on_resume": run.changes,
        "history": run.history,
    }
