"""Checkpoints that describe themselves, and the provenance of a run (chapter 9).

A checkpoint of this package is a ``torch.save`` dict that loads with ``weights_only=True`` and holds all a
reader needs to use the model it stores, with no other file of the run:

* ``model``: the parameters (this package's names; :mod:`cnm_minimal.official` maps the authors' ones);
* ``model_config``: the model's config as a dict, and ``architecture``, its name in
  :mod:`cnm_minimal.registry` (checkpoints without the key are CNM's);
* ``vocabulary`` and ``embeddings``: the kept words (id i is ``vocabulary[i - 1]``) and their word vectors;
* ``constant_window``: the best constant window of the training moments (it defines the prior-hard queries);
* ``train_config``, ``data_fingerprint`` (the hashes of the annotation files trained on), ``epoch``.

``last.pt`` adds what an exact resume needs: optimisers, schedules, the update count, history and selection.
Every file is written atomically (:func:`~cnm_minimal.atomic.atomic_write`) and verified when read: the
payload is stored as bytes next to its SHA-256, so a damaged or foreign file is refused with its name, never
half-used.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import platform
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from cnm_minimal import registry
from cnm_minimal.atomic import atomic_write
from cnm_minimal.data.text import Vocabulary
from cnm_minimal.model import CNM

FORMAT = "cnm_minimal.checkpoint/3"


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint of this package; the message names it."""


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked (in use, holding a run, nothing to resume); names the
    folder."""


RUN_FILES = ("last.pt", "best.pt", "results.json", "predictions_test.jsonl")


@contextlib.contextmanager
def run_folder(out, resume: bool = False, overwrite: bool = False):
    """Hold ``out`` for one training process: a lock refuses a second one (naming its process id), a folder
    that holds a run is never replaced unless ``overwrite`` (and then only by :func:`clear_run`, once the new
    run has been validated), and ``resume`` needs a ``last.pt``."""
    import fcntl

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise RunFolderError(
                f"{out}: in use by another training process (pid {lock.read().strip() or '?'}); "
                "wait for it to finish or choose another --out"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        held = [name for name in RUN_FILES if (out / name).exists()]
        if resume and not (out / "last.pt").is_file():
            raise RunFolderError(
                f"{out}: nothing to resume (no last.pt); start the run again with --overwrite"
                if held
                else f"{out}: nothing to resume (no last.pt); start the run without --resume"
            )
        if held and not resume and not overwrite:
            what = (
                "continue it with --resume or replace it with --overwrite"
                if "last.pt" in held
                else "it has no last.pt to resume from: replace it with --overwrite"
            )
            raise RunFolderError(f"{out}: holds a run ({', '.join(held)}); {what}")
        try:
            yield out
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def clear_run(out) -> None:
    """Remove the files of the run in ``out`` (``--overwrite``, called once the new run is known to start)."""
    for name in RUN_FILES:
        with contextlib.suppress(FileNotFoundError):
            (Path(out) / name).unlink()


def save_checkpoint(path, payload: dict) -> None:
    """``payload`` at ``path``, atomically: ``{"format", "sha256", "payload"}`` with the ``torch.save`` bytes
    of the payload as a uint8 tensor and their SHA-256."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    outer = io.BytesIO()
    torch.save(
        {
            "format": FORMAT,
            "sha256": hashlib.sha256(data).hexdigest(),
            "payload": torch.frombuffer(bytearray(data), dtype=torch.uint8),
        },
        outer,
    )
    with atomic_write(path, "wb") as f:
        f.write(outer.getbuffer())


def load_checkpoint(path, map_location="cpu") -> dict:
    """A checkpoint of this package, verified against its digest (``weights_only=True``: no code is run)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        outer = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a damaged file
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({type(error).__name__}); "
            "the file is damaged or not a torch file"
        ) from None
    if not isinstance(outer, dict) or outer.get("format") != FORMAT:
        found = outer.get("format") if isinstance(outer, dict) else type(outer).__name__
        raise CheckpointError(
            f"{path}: not a checkpoint of this package in format {FORMAT} (found {found}); "
            "convert the authors' checkpoints with `python -m cnm_minimal import-official`"
        )
    data = outer["payload"].numpy().tobytes()
    if hashlib.sha256(data).hexdigest() != outer["sha256"]:
        raise CheckpointError(f"{path}: damaged: its content does not match the SHA-256 stored with it")
    return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)


def model_payload(model: CNM, vocabulary: Vocabulary, embeddings: np.ndarray, constant_window) -> dict:
    """The self-describing part of every checkpoint (see the module's description)."""
    return {
        "model": model.state_dict(),
        "model_config": asdict(model.config),
        "architecture": registry.of_model(model).name,
        "vocabulary": list(vocabulary.words),
        "embeddings": torch.as_tensor(np.asarray(embeddings)),
        "constant_window": [float(x) for x in constant_window],
    }


class LoadedModel(NamedTuple):
    model: CNM
    vocabulary: Vocabulary
    embeddings: np.ndarray
    checkpoint: dict


def model_from_checkpoint(path, map_location="cpu") -> LoadedModel:
    """The model, its vocabulary and word vectors from a checkpoint alone."""
    state = load_checkpoint(path, map_location)
    try:
        architecture = registry.get(state.get("architecture", "cnm"))  # older checkpoints: CNM's
    except ValueError as error:
        raise CheckpointError(f"{path}: {error}") from None
    model = architecture.model(architecture.config(**state["model_config"]))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise CheckpointError(f"{path}: the parameters do not fit its own model_config: {error}") from None
    return LoadedModel(model, Vocabulary(tuple(state["vocabulary"])), state["embeddings"].numpy(), state)


def provenance(seed: int, device: torch.device) -> dict:
    """What is needed to reproduce a run: command, commit (and whether the work tree differed from it),
    versions, device."""

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(
                ["git", *args], capture_output=True, text=True, cwd=Path(__file__).parent, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "HEAD") or None
    changes = git("status", "--porcelain", "--untracked-files=no")
    return {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "git_commit": commit,
        "git_dirty": bool(changes) if commit and changes is not None else None,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
        "threads": torch.get_num_threads(),
        "seed": seed,
    }
