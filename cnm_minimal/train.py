"""Training CNM: two optimisers taking turns on every batch, exact resume, selection on validation (chapter
9).

Per batch (the authors' scheme; the objectives are the model's own, :mod:`cnm_minimal.model`):

A. :func:`reconstructor_step`: every parameter but the Gaussian head takes a step on ``L_rec`` (Eq. 8); the
   gradient also flows through the mask into the generator's transformer (the head itself is frozen);
B. :func:`generator_step`: only the Gaussian head takes a step on ``L_IVC`` (Eq. 9).

Both learning rates warm up linearly over 400 updates from 1e-7 to 4e-4, then decay as ``4e-4 sqrt(400 / n)``;
each step clips its own parameters' gradients at 10. ``mode="joint"`` is the paper's ablation: one optimiser
on ``L_rec + L_IVC``; it is also how CPL trains (``architecture="cpl"``, :mod:`cnm_minimal.cpl`). After every
epoch the run is evaluated, checkpointed atomically and logged in one line;
``resume=True`` continues from ``last.pt`` and ends with the same parameters as an uninterrupted run (every
epoch reseeds every generator from the seed and the epoch). The epoch kept is the best on validation.
"""

from __future__ import annotations

import contextlib
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from cnm_minimal import distributed, registry
from cnm_minimal.atomic import write_json
from cnm_minimal.baselines import best_constant_window
from cnm_minimal.checkpoints import (
    clear_run,
    load_checkpoint,
    model_payload,
    provenance,
    run_folder,
    save_checkpoint,
)
from cnm_minimal.config import FROM_DATA, ConfigError, TrainConfig
from cnm_minimal.data.dataset import Collate
from cnm_minimal.data.files import DatasetFiles, PreparedData, prepare_splits
from cnm_minimal.evaluate import evaluate_model, save_predictions
from cnm_minimal.model import CNM


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


def learning_rate_factor(config: TrainConfig):
    """``n -> lr(n) / lr``: linear warm-up from ``warmup_init_lr``, then inverse square root (Eq. 9.3)."""

    def factor(n: int) -> float:
        if n < config.warmup_updates:
            return (
                config.warmup_init_lr + n * (config.lr - config.warmup_init_lr) / config.warmup_updates
            ) / config.lr
        return math.sqrt(config.warmup_updates / n)

    return factor


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    """``auto``: CUDA if present (under torchrun, the process's own GPU, ``LOCAL_RANK``), else the CPU."""
    if name == "auto":
        return torch.device(
            f"cuda:{distributed.rank_and_world()[0] % torch.cuda.device_count()}"
            if torch.cuda.is_available()
            else "cpu"
        )
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"--device {name!r}: not a device name; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: this machine has no CUDA device; use --device cpu (or auto)")
    try:
        torch.empty(1, device=device)
    except (
        RuntimeError,
        AssertionError,
    ) as error:  # another index than the GPUs, or a backend torch lacks here
        raise ConfigError(
            f"--device {name}: torch cannot use it on this machine ({str(error).splitlines()[0]}); "
            "use --device cpu (or auto)"
        ) from None
    return device


@dataclass
class Run:
    """A run in progress: what the steps change, and what a checkpoint restores."""

    config: TrainConfig
    data: PreparedData
    model: CNM  # or CPL, a CNM with K proposals
    optimizers: dict[str, torch.optim.Adam]
    schedulers: dict[str, torch.optim.lr_scheduler.LambdaLR]
    device: torch.device
    constant_window: np.ndarray
    word_rng: torch.Generator = field(default_factory=torch.Generator)  # which words are hidden
    changes: list = field(default_factory=list)  # options changed on resume
    epoch: int = 0
    updates: int = 0
    history: list = field(default_factory=list)
    best: dict | None = None


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
        else {"reconstructor": model.reconstructor_parameters(), "generator": model.generator_parameters()}
    )
    optimizers = {
        k: torch.optim.Adam(v, lr=config.lr, betas=(0.9, 0.999), eps=1e-8) for k, v in groups.items()
    }
    schedulers = {
        k: torch.optim.lr_scheduler.LambdaLR(o, learning_rate_factor(config)) for k, o in optimizers.items()
    }
    moments = np.array([q.moment for q in data.splits["train"].queries]).reshape(-1, 2)
    return Run(config, data, model, optimizers, schedulers, device, best_constant_window(moments))


def bf16_is_fast(device: torch.device) -> bool:
    """bfloat16 pays on CUDA and on CPUs with bfloat16 units (AVX512-BF16, AMX); elsewhere it is emulated and
    several times slower than float32 (measured on an AVX2 CPU: 5x slower per training step)."""
    if device.type == "cuda":
        return True
    return device.type == "cpu" and (
        torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    )


def autocast(run: Run):
    """bfloat16 autocast where ``amp`` asks for it (``"auto"``: only where it is faster)."""
    on = bf16_is_fast(run.device) if run.config.amp == "auto" else run.config.amp
    if on:
        return torch.autocast(run.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def update(run: Run, loss: torch.Tensor, name: str, parameters: list) -> float:
    """One optimiser step on ``loss``: zero, backward, average over processes, clip, step."""
    run.optimizers[name].zero_grad(set_to_none=True)
    loss.backward()
    distributed.average_gradients(parameters)
    torch.nn.utils.clip_grad_norm_(parameters, run.config.clip_norm)
    run.optimizers[name].step()
    return loss.item()


def reconstructor_step(run: Run, batch) -> float:
    """Step A: ``L_rec`` on everything but the Gaussian head."""
    with autocast(run):
        loss = run.model.reconstructor_loss(batch, run.word_rng)
    return update(run, loss, "reconstructor", run.model.reconstructor_parameters())


def generator_step(run: Run, batch) -> float:
    """Step B: ``L_IVC`` on the Gaussian head only."""
    with autocast(run):
        loss = run.model.generator_loss(batch, run.word_rng)
    return update(run, loss, "generator", run.model.generator_parameters())


def joint_step(run: Run, batch) -> tuple[float, float]:
    """One optimiser on ``L_rec + L_IVC`` of the full training pass: CNM's joint ablation, and CPL's only
    scheme (``progress``, the share of the epochs begun, schedules CPL's negatives)."""
    with autocast(run):
        out = run.model.training_pass(batch, run.word_rng, progress=(run.epoch + 1) / run.config.epochs)
    update(run, out.rec_loss + out.ivc_loss, "joint", list(run.model.parameters()))
    return out.rec_loss.item(), out.ivc_loss.item()


def train_epoch(run: Run) -> np.ndarray:
    """One pass over the training split; returns the mean ``(L_rec, L_IVC)``."""
    c, rank = run.config, distributed.rank_and_world()[0]
    epoch_seed = c.seed * 1000 + run.epoch
    seed_everything(epoch_seed + 7919 * rank)  # each process its own dropout and hidden words
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
    totals, steps = np.zeros(2), 0
    for batch in batches:
        batch = batch.to(run.device, non_blocking=True)
        if c.mode == "joint":
            totals += joint_step(run, batch)
        else:
            totals += (reconstructor_step(run, batch), generator_step(run, batch))
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
            log(
                f"warning: --amp true on {run.device} without bfloat16 units: emulated, several times slower "
                "than "
                "float32 (use --amp auto)"
            )
        start = time.perf_counter() - (run.history[-1]["wall_s"] if run.history else 0.0)
        while run.epoch < config.epochs:
            losses = train_epoch(run)
            run.epoch += 1
            end_of_epoch(run, losses, time.perf_counter() - start, log)
        return summary(run)


RESUMABLE_CHANGES = {
    "epochs",
    "device",
    "num_workers",
    "progress",
    "cache_features",
    "out",
    "data",
    "word_vectors",
}
"""What a resumed run may change without being told to: more epochs, another device or folder name."""

FIXED_ON_RESUME = {
    "architecture": "the model",
    "mode": "the optimisers",
    "num_clips": "the clips per video",
    "kept_words": "the vocabulary",
    "hidden": "the parameters' shapes",
    "heads": "the parameters' shapes",
    "video_layers": "the parameters",
    "query_layers": "the parameters",
    "max_words": "the batches",
    "num_proposals": "the parameters",
    "seed": "the data order and the validation split",
    "val_fraction": "the validation split",
    "reverse_fraction": "the training videos",
}
"""What a resumed run can never change, even with ``--allow-config-change``, and what depends on it."""


def resume_changes(stored: dict, config: TrainConfig, allow: bool) -> list[str]:
    """The options that differ from the run being resumed; an error listing them unless ``allow``."""

    def flat(values: dict) -> dict:
        return {k: v for k, v in values.items() if k != "model"} | {
            k: v for k, v in values["model"].items() if k not in FROM_DATA
        }

    before, now = flat(asdict(TrainConfig())) | flat(stored), flat(asdict(config))  # newer options: defaults
    changed = [k for k in sorted(now) if before.get(k) != now[k] and k not in RESUMABLE_CHANGES]
    fixed = [
        f"--{k.replace('_', '-')} {before.get(k)!r} -> {now[k]!r} ({FIXED_ON_RESUME[k]})"
        for k in changed
        if k in FIXED_ON_RESUME
    ]
    if fixed:
        raise ConfigError(
            f"{config.out}: --resume cannot change {'; '.join(fixed)}; train a new run instead "
            "(another --out, or --overwrite)"
        )
    changes = [f"--{k.replace('_', '-')} {before.get(k)!r} -> {now[k]!r}" for k in changed]
    if changes and not allow:
        raise ConfigError(
            f"{config.out}: --resume with other options than the run's: {'; '.join(changes)} "
            "(add --allow-config-change to continue anyway; the change is recorded)"
        )
    return changes


def check_same_data(run: Run, state: dict) -> None:
    """A resumed run trains on the annotation files and the vocabulary it began with (their SHA-256 and
    words)."""
    began = (state.get("data_fingerprint") or {}).get("annotations", {})
    now = run.data.files.fingerprint()["annotations"]
    for split, file in now.items():
        if split in began and began[split]["sha256"] != file["sha256"]:
            raise ConfigError(
                f"{run.config.out}: --resume on other annotations: {run.data.files.annotations[split]} "
                f"differs from the {began[split]['file']} the run began with; resume with the same "
                "files, or train a new run (another --out, or --overwrite)"
            )
    if list(state["vocabulary"]) != list(run.data.vocabulary.words):
        raise ConfigError(
            f"{run.config.out}: --resume cannot change the vocabulary (the word vectors or the training "
            "sentences differ from the run's); train a new run instead"
        )


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


def peak_memory_gb(device: torch.device) -> float | None:
    """The most memory the run has held so far: on CUDA the allocator's peak on the device, else the process's
    peak resident set (kilobytes on Linux, bytes on macOS; ``None`` on Windows, which has no ``resource``
    module)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1e9
    try:
        import resource
    except ImportError:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1e9 if sys.platform == "darwin" else 1e6)


def checkpoint(run: Run, resumable: bool = False) -> dict:
    """The model, self-described (:func:`~cnm_minimal.checkpoints.model_payload`); ``resumable`` adds the
    rest."""
    state = model_payload(run.model, run.data.vocabulary, run.data.embeddings, run.constant_window) | {
        "train_config": asdict(run.config),
        "data_fingerprint": run.data.files.fingerprint(),
        "epoch": run.epoch,
    }
    if resumable:
        state |= {
            "optimizers": {k: o.state_dict() for k, o in run.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in run.schedulers.items()},
            "updates": run.updates,
            "history": run.history,
            "best": run.best,
        }
    return state


def restore(run: Run, state: dict) -> None:
    """Continue a run from a resumable checkpoint."""
    run.model.load_state_dict(state["model"])
    for k, o in run.optimizers.items():
        o.load_state_dict(state["optimizers"][k])
    for k, s in run.schedulers.items():
        s.load_state_dict(state["schedulers"][k])
        follow_the_schedule(s, run.optimizers[k], run.config)
    run.epoch, run.updates, run.history, run.best = (
        state["epoch"],
        state["updates"],
        state["history"],
        state["best"],
    )


def follow_the_schedule(scheduler, optimizer, config: TrainConfig) -> None:
    """The learning rate at the restored update count under ``config``'s schedule (Eq. 9.3): the same numbers
    when the options did not change, the new schedule when ``--lr`` or the warm-up changed on resume."""
    factor = learning_rate_factor(config)
    scheduler.base_lrs = [config.lr] * len(optimizer.param_groups)
    for group in optimizer.param_groups:
        group["initial_lr"], group["lr"] = config.lr, config.lr * factor(scheduler.last_epoch)
    scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]


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
