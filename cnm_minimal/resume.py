"""Exact resume: what a checkpoint holds of a run, how a run continues from it, and what it may not change
(chapter 9).

A resumed run ends with the same parameters as one that never stopped: the checkpoint holds the optimisers,
the schedules, the update count, the history and the selection, and every epoch reseeds every generator from
the seed and the epoch number. Options that would make the continuation another run are refused; the others
are refused unless ``--allow-config-change``, and then recorded in ``results.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from cnm_minimal.checkpoints import model_payload
from cnm_minimal.config import FROM_DATA, ConfigError, TrainConfig, learning_rate_factor
from cnm_minimal.data.files import PreparedData
from cnm_minimal.dual_decoder import DualDecoder


@dataclass
class Run:
    """A run in progress: what the steps change, and what a checkpoint restores."""

    config: TrainConfig
    data: PreparedData
    model: DualDecoder  # CNM, CPL or another registered architecture
    optimizers: dict[str, torch.optim.Adam]
    schedulers: dict[str, torch.optim.lr_scheduler.LambdaLR]
    device: torch.device
    constant_window: np.ndarray
    word_rng: torch.Generator = field(default_factory=torch.Generator)  # which words are masked
    changes: list = field(default_factory=list)  # options changed on resume
    epoch: int = 0
    updates: int = 0
    history: list = field(default_factory=list)
    best: dict | None = None


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
