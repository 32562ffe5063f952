"""Training CNM: alternating optimisation, checkpoints that resume exactly, selection on validation (chapter 9).

Per batch, two steps with two Adam optimisers (spec section 4):

A. **reconstructor step**: every parameter except the Gaussian head learns to minimise
   ``L_rec = mean(L^p) + mean(L^h)``; the gradient also flows through the mask into the generator's
   transformer (the head itself is frozen), as in the authors' code;
B. **mask-generator step**: only the Gaussian head learns, to minimise ``L_IVC``; the reconstructor is
   frozen, and nothing upstream of the generator state needs gradients, so that part runs without them.

Both learning rates follow a linear warm-up over 400 updates from 1e-7 to 4e-4, then decay as
``4e-4 * sqrt(400 / n)``. Two quirks of the authors' code are fixed, as the book's fidelity policy says:
each step clips only its own parameters' gradients (at 10), and each step builds its own forward pass (no
``retain_graph``; the authors' second forward reused an input modified in place). ``mode="joint"`` trains
``L_rec + L_IVC`` with one optimiser over everything (the paper's ablation).

Checkpoints are written atomically after every epoch; ``resume=True`` continues from the last one and gives
the same parameters as an uninterrupted run (every epoch reseeds all generators from the seed and the epoch).
The epoch kept is the one with the best validation mIoU; ``select_on="test"`` imitates the authors, who
selected on the test split.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from cnm_minimal.baselines import best_constant_window
from cnm_minimal.bias import prior_hard
from cnm_minimal.data.annotations import Query
from cnm_minimal.data.batching import Collate, MomentDataset
from cnm_minimal.data.datasets import DatasetFiles, embeddings_for
from cnm_minimal.data.features import FeatureStore
from cnm_minimal.data.text import Vocabulary
from cnm_minimal.evaluate import evaluate_predictions, predict_split, save_predictions
from cnm_minimal.gaussian_mask import gaussian_mask
from cnm_minimal.model import CNM, CNMConfig


@dataclass
class TrainConfig:
    """Everything a run depends on; any field can be overridden on the command line (``--field value``)."""

    data: str = "data_samples/charades-sta-sim"   # a folder: the simulator's layout, or the authors' json splits
    feature_file: str = ""           # real data: the HDF5 file's name in ``data`` (e.g. i3d_features.hdf5)
    feature_layout: Literal["flat", "c3d"] = "flat"   # "c3d": ActivityNet's file[vid]["c3d_features"]
    word_vectors: str = ""           # real data: GloVe text or .npz (e.g. data/glove/glove.6B.300d.txt)
    out: str = "runs/sample"
    # model (chapter 8); the authors' Charades values are hidden 256, 3 + 3 layers, 200 clips
    num_clips: int = 64
    hidden: int = 128
    heads: int = 4
    video_layers: int = 2
    query_layers: int = 2
    dropout: float = 0.1
    alpha: float = 5.5
    max_width: float = 0.45
    vocab_size: int = 1111
    max_words: int = 20
    # optimisation (spec section 4)
    epochs: int = 30
    batch_size: int = 32
    lr: float = 4e-4
    warmup_updates: int = 400
    warmup_init_lr: float = 1e-7
    clip_norm: float = 10.0
    mode: Literal["alternating", "joint"] = "alternating"
    # ablations (chapter 10)
    use_hard_negative: bool = True
    use_easy_negative: bool = True
    mask_shape: Literal["gaussian", "box"] = "gaussian"
    # probe (chapter 11): sinusoidal positions added to the clips of the mask generator (not in the authors' model)
    clip_positions: bool = False
    # selection and bookkeeping
    select_on: Literal["val", "test"] = "val"
    val_fraction: float = 0.1        # carved from train, by video, when the data set has no val split
    seed: int = 0
    device: str = "auto"
    amp: bool = False                # bfloat16 autocast (CUDA, or a CPU with bfloat16 instructions)
    num_workers: int = 0
    cache_features: bool = True
    progress: bool = True
    save_checkpoints: bool = True


# -- data ------------------------------------------------------------------------------------------------
def carve_validation(queries: list[Query], fraction: float, seed: int) -> tuple[list[Query], list[Query]]:
    """Split training queries by video (no video in both parts): ``(train, val)``."""
    videos = sorted({q.vid for q in queries})
    chosen = set(np.random.default_rng(seed).permutation(videos)[: max(1, round(fraction * len(videos)))])
    return [q for q in queries if q.vid not in chosen], [q for q in queries if q.vid in chosen]


@dataclass
class PreparedData:
    vocabulary: Vocabulary
    embeddings: np.ndarray
    splits: dict[str, MomentDataset]
    feature_dim: int


def prepare_data(config: TrainConfig) -> PreparedData:
    """Read the data set of ``config.data``: vocabulary from the training sentences, the three splits."""
    files = DatasetFiles.detect(config.data, config.feature_file, config.word_vectors, config.feature_layout)
    train, _ = files.queries("train")
    if "val" in files.annotations:
        val, _ = files.queries("val")
    else:
        train, val = carve_validation(train, config.val_fraction, config.seed)
    test, _ = files.queries("test")
    vocabulary = Vocabulary.from_sentences([q.sentence for q in train], config.vocab_size)
    store = FeatureStore(files.features, files.feature_layout)
    feature_dim = store.shape(train[0].vid)[1]
    splits = {name: MomentDataset(rows, store, vocabulary, feature_dim, config.num_clips, config.max_words,
                                  config.cache_features)
              for name, rows in (("train", train), ("val", val), ("test", test))}
    return PreparedData(vocabulary, embeddings_for(files, vocabulary), splits, feature_dim)


def model_config(config: TrainConfig, frame_dim: int, word_dim: int, vocab_size: int) -> CNMConfig:
    """The model of a run: sizes from ``config``, input widths and the output vocabulary from the data."""
    c = config
    return CNMConfig(frame_dim=frame_dim, word_dim=word_dim, vocab_size=vocab_size, hidden=c.hidden, heads=c.heads,
                     video_layers=c.video_layers, query_layers=c.query_layers, dropout=c.dropout, alpha=c.alpha,
                     max_width=c.max_width, max_words=c.max_words, clip_positions=c.clip_positions)


# -- the schedule, seeds, devices ---------------------------------------------------------------------------
def learning_rate_factor(config: TrainConfig):
    """``n -> lr(n) / lr``: linear warm-up from ``warmup_init_lr``, then inverse square root."""
    def factor(n: int) -> float:
        if n < config.warmup_updates:
            return (config.warmup_init_lr + n * (config.lr - config.warmup_init_lr) / config.warmup_updates) / config.lr
        return math.sqrt(config.warmup_updates / n)
    return factor


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    """``auto``: CUDA if present (under torchrun, the process's own GPU, ``LOCAL_RANK``), else the CPU."""
    if name == "auto":
        name = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def distributed_context() -> tuple[int, int]:
    """``(rank, world size)``; under ``torchrun`` (``WORLD_SIZE`` > 1) it joins the process group, NCCL on GPUs,
    gloo on CPUs."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return torch.distributed.get_rank(), world


@contextlib.contextmanager
def frozen(parameters):
    """Temporarily stop gradients to ``parameters`` (their ``.grad`` is left untouched)."""
    parameters = [p for p in parameters if p.requires_grad]
    for p in parameters:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in parameters:
            p.requires_grad_(True)


def atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def atomic_write_json(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


def provenance(config: TrainConfig, device: torch.device) -> dict:
    """What is needed to reproduce a run: command, commit (and whether the work tree differed from it), versions,
    device."""
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, cwd=Path(__file__).parent,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "HEAD") or None
    changes = git("status", "--porcelain", "--untracked-files=no")
    return {"command": " ".join([Path(sys.executable).name, *sys.argv]), "git_commit": commit,
            "git_dirty": bool(changes) if commit and changes is not None else None,
            "torch": torch.__version__, "python": platform.python_version(), "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
            "threads": torch.get_num_threads(), "seed": config.seed}


# -- the trainer ----------------------------------------------------------------------------------------------
class Trainer:
    def __init__(self, config: TrainConfig, data: PreparedData | None = None):
        self.config = c = config
        self.rank, self.world = distributed_context()
        self.device = pick_device(c.device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.data = data or prepare_data(c)
        seed_everything(c.seed)
        self.model = CNM(model_config(c, self.data.feature_dim, self.data.embeddings.shape[1],
                                      len(self.data.vocabulary))).to(self.device)
        if self.world > 1:                               # every process starts from rank 0's parameters
            for tensor in self.model.state_dict().values():
                torch.distributed.broadcast(tensor, src=0)
        head = list(self.model.mask_head.parameters())
        head_ids = {id(p) for p in head}
        self.reconstructor_params = [p for p in self.model.parameters() if id(p) not in head_ids]
        self.generator_params = head
        if c.mode == "joint":
            groups = {"joint": list(self.model.parameters())}
        else:
            groups = {"reconstructor": self.reconstructor_params, "generator": self.generator_params}
        self.optimizers = {k: torch.optim.Adam(v, lr=c.lr, betas=(0.9, 0.999), eps=1e-8) for k, v in groups.items()}
        self.schedulers = {k: torch.optim.lr_scheduler.LambdaLR(o, learning_rate_factor(c))
                           for k, o in self.optimizers.items()}
        self.collate = Collate(self.data.embeddings)
        self.out = Path(c.out)
        self.epoch, self.updates, self.history, self.best = 0, 0, [], None
        self.mask_generator = torch.Generator()
        if {"train", "test"} <= set(self.data.splits):       # chapter 11: where the best constant window fails
            moments = {k: np.array([q.moment for q in self.data.splits[k].queries]).reshape(-1, 2) for k in ("train", "test")}
            self.constant_window = best_constant_window(moments["train"])
            self.prior_hard = prior_hard(moments["test"], self.constant_window)

    # -- masks and objectives ---------------------------------------------------------------------------
    def mask(self, centre: torch.Tensor, width: torch.Tensor, slots: int) -> torch.Tensor:
        if self.config.mask_shape == "box":      # ablation: a steep box over [c - w/2, c + w/2] instead of a Gaussian
            grid = torch.linspace(0, 1, slots, device=centre.device, dtype=centre.dtype)
            half = (width.clamp(min=0.1) / 2).unsqueeze(-1)
            rise = 25.0
            return (torch.sigmoid(rise * (grid - centre.unsqueeze(-1) + half))
                    * torch.sigmoid(rise * (centre.unsqueeze(-1) + half - grid)))
        return gaussian_mask(centre, width, slots, self.model.config.alpha)

    def rec_objective(self, nll: dict[str, torch.Tensor]) -> torch.Tensor:
        """``L_rec = mean(L^p) + mean(L^h)``; without the hard negative, ``mean(L^p)`` alone."""
        return nll["positive"].mean() + (nll["hard"].mean() if self.config.use_hard_negative else 0.0)

    def ivc_objective(self, nll: dict[str, torch.Tensor]) -> torch.Tensor:
        """``L_IVC`` with the hinges of the negatives this run uses (the ablations drop one or both)."""
        c, mc = self.config, self.model.config
        hinges = []
        if c.use_hard_negative:
            hinges.append(torch.clamp(nll["positive"] - nll["hard"] + mc.beta1, min=0).mean())
        if c.use_easy_negative:
            hinges.append(torch.clamp(nll["positive"] - nll["easy"] + mc.beta2, min=0).mean())
        return sum(hinges) if hinges else nll["positive"].mean()   # no negatives: the authors' fallback

    def _reconstruct(self, batch, slots, sentence, loss_mask, masks: dict[str, torch.Tensor | None]):
        """Per-sentence losses of the named samples, in one batched pass."""
        names = list(masks)
        ones = slots.new_ones(slots.shape[:2])            # the hard negative: no mask
        weights = torch.cat([ones if masks[n] is None else masks[n] for n in names])
        k = len(names)
        logits = self.model.reconstruct(slots.repeat(k, 1, 1), sentence.repeat(k, 1, 1), (~loss_mask).repeat(k, 1),
                                        weights)
        return {n: self.model.sentence_losses(x, batch.word_ids, loss_mask) for n, x in zip(names, logits.split(len(batch)))}

    def _inputs(self, batch):
        model = self.model
        clips, words = model.embed(batch.frames, batch.words)
        return clips, words, model.reconstruction_inputs(clips, words, batch.lengths, batch.word_ids.shape[1],
                                                         weights=batch.weights, generator=self.mask_generator)

    def _autocast(self):
        if self.config.amp:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # -- the two steps ---------------------------------------------------------------------------------------
    def reconstructor_step(self, batch) -> float:
        """Step A: ``L_rec`` on everything but the Gaussian head (whose output still carries the gradient)."""
        model, optimizer = self.model, self.optimizers["reconstructor"]
        with frozen(self.generator_params), self._autocast():
            clips, words, (slots, sentence, loss_mask, _) = self._inputs(batch)
            mask = self.mask(*model.generate_mask(clips, words, batch.lengths), slots.shape[1])
            samples = {"positive": mask, "hard": None} if self.config.use_hard_negative else {"positive": mask}
            rec = self.rec_objective(self._reconstruct(batch, slots, sentence, loss_mask, samples))
        optimizer.zero_grad(set_to_none=True)
        rec.backward()
        self.average_gradients(self.reconstructor_params)
        torch.nn.utils.clip_grad_norm_(self.reconstructor_params, self.config.clip_norm)
        optimizer.step()
        return rec.item()

    def generator_step(self, batch) -> float:
        """Step B: ``L_IVC`` on the Gaussian head only; everything before the generator state runs without grad."""
        model, optimizer = self.model, self.optimizers["generator"]
        with self._autocast():
            with torch.no_grad():
                clips, words, (slots, sentence, loss_mask, _) = self._inputs(batch)
                state = model.generator_state(clips, words, batch.lengths)
                hard = (self._reconstruct(batch, slots, sentence, loss_mask, {"hard": None})
                        if self.config.use_hard_negative else {})
            mask = self.mask(*model.mask_head(state), slots.shape[1])
            samples = {"positive": mask, "easy": 1 - mask} if self.config.use_easy_negative else {"positive": mask}
            with frozen(self.reconstructor_params):
                nll = self._reconstruct(batch, slots, sentence, loss_mask, samples) | hard
            ivc = self.ivc_objective(nll)
        optimizer.zero_grad(set_to_none=True)
        ivc.backward()
        self.average_gradients(self.generator_params)
        torch.nn.utils.clip_grad_norm_(self.generator_params, self.config.clip_norm)
        optimizer.step()
        return ivc.item()

    def joint_step(self, batch) -> tuple[float, float]:
        """The ablation: one optimiser on ``L_rec + L_IVC``, one backward."""
        optimizer = self.optimizers["joint"]
        with self._autocast():
            clips, words, (slots, sentence, loss_mask, _) = self._inputs(batch)
            mask = self.mask(*self.model.generate_mask(clips, words, batch.lengths), slots.shape[1])
            nll = self._reconstruct(batch, slots, sentence, loss_mask, {"positive": mask, "hard": None, "easy": 1 - mask})
            rec, ivc = self.rec_objective(nll), self.ivc_objective(nll)
        optimizer.zero_grad(set_to_none=True)
        (rec + ivc).backward()
        self.average_gradients(list(self.model.parameters()))
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_norm)
        optimizer.step()
        return rec.item(), ivc.item()

    # -- several processes (torchrun) ------------------------------------------------------------------------
    def average_gradients(self, parameters) -> None:
        """Data parallelism: average this step's gradients over the processes (one all-reduce of one flat buffer),
        so that every process takes the same step. This is what ``DistributedDataParallel`` does inside; the two
        alternating steps, each with its own frozen parameters and no single ``forward``, do not fit its wrapper."""
        if self.world == 1:
            return
        grads = [p.grad for p in parameters if p.grad is not None]
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch.distributed.all_reduce(flat)
        flat /= self.world
        for g, part in zip(grads, flat.split([g.numel() for g in grads])):
            g.copy_(part.view_as(g))

    def ranks_in_sync(self) -> bool:
        """True when every process holds the same parameters (a float64 checksum, gathered from all of them)."""
        if self.world == 1:
            return True
        checksum = torch.stack([p.detach().double().sum() for p in self.model.parameters()]).to(self.device)
        gathered = [torch.zeros_like(checksum) for _ in range(self.world)]
        torch.distributed.all_gather(gathered, checksum)
        return all(torch.equal(gathered[0], g) for g in gathered[1:])

    def train_step(self, batch) -> tuple[float, float]:
        self.model.train()
        if self.config.mode == "joint":
            losses = self.joint_step(batch)
        else:
            losses = self.reconstructor_step(batch), self.generator_step(batch)
        self.updates += 1
        for scheduler in self.schedulers.values():
            scheduler.step()
        return losses

    # -- epochs, evaluation, checkpoints ----------------------------------------------------------------------
    def loader(self, split: str, shuffle: bool, seed: int = 0):
        """Batches of a split; in training under torchrun each process reads its own share (a distributed
        sampler) in batches of ``batch_size / world size``, so the global batch stays ``batch_size``."""
        dataset = self.data.splits[split]
        if shuffle and self.world > 1:
            sampler = torch.utils.data.DistributedSampler(dataset, self.world, self.rank, shuffle=True, seed=seed)
            return torch.utils.data.DataLoader(dataset, batch_size=max(self.config.batch_size // self.world, 1),
                                               sampler=sampler, collate_fn=self.collate,
                                               num_workers=self.config.num_workers, pin_memory=self.device.type == "cuda")
        return torch.utils.data.DataLoader(dataset, batch_size=self.config.batch_size, shuffle=shuffle,
                                           collate_fn=self.collate, num_workers=self.config.num_workers,
                                           generator=torch.Generator().manual_seed(seed),
                                           pin_memory=self.device.type == "cuda")

    def evaluate(self, split: str, reverse_time: bool = False):
        predictions = predict_split(self.model, self.loader(split, shuffle=False), self.device, reverse_time)
        return evaluate_predictions(predictions), predictions

    def state(self) -> dict:
        return {"model": self.model.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
                "epoch": self.epoch, "updates": self.updates, "history": self.history, "best": self.best,
                "config": asdict(self.config),
                "rng": {"torch": torch.get_rng_state(), "numpy": torch.from_numpy(np.random.get_state()[1].astype(np.int64)),
                        "python": list(random.getstate()[1])}}

    def load(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        for k, s in self.schedulers.items():
            s.load_state_dict(state["schedulers"][k])
        self.epoch, self.updates, self.history, self.best = state["epoch"], state["updates"], state["history"], state["best"]

    def run(self, resume: bool = False) -> dict:
        """Train for ``config.epochs`` epochs (continuing from ``out/last.pt`` if ``resume``); returns the summary."""
        c = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        if resume and (self.out / "last.pt").is_file():
            self.load(self.out / "last.pt")
        start = time.perf_counter() - (self.history[-1]["wall_s"] if self.history else 0.0)
        while self.epoch < c.epochs:
            epoch_seed = c.seed * 1000 + self.epoch
            seed_everything(epoch_seed + 7919 * self.rank)           # each process its own dropout and masks
            self.mask_generator.manual_seed(epoch_seed + 500 + 7919 * self.rank)
            totals, steps = np.zeros(2), 0
            batches = self.loader("train", shuffle=True, seed=epoch_seed)
            if c.progress and self.rank == 0:
                from tqdm import tqdm
                batches = tqdm(batches, desc=f"epoch {self.epoch + 1}/{c.epochs}", leave=False)
            for batch in batches:
                totals += self.train_step(batch.to(self.device, non_blocking=True))
                steps += 1
                if c.progress and self.rank == 0:
                    batches.set_postfix(rec=f"{totals[0] / steps:.3f}", ivc=f"{totals[1] / steps:.3f}")
            self.epoch += 1
            self.end_of_epoch(totals / max(steps, 1), time.perf_counter() - start)
        return self.summary()

    def end_of_epoch(self, losses, wall: float) -> None:
        c = self.config
        val, _ = self.evaluate("val")
        test, test_predictions = self.evaluate("test")
        record = {"epoch": self.epoch, "updates": self.updates, "rec_loss": float(losses[0]), "ivc_loss": float(losses[1]),
                  "lr": float(next(iter(self.schedulers.values())).get_last_lr()[0]),
                  "mean_width": float(test_predictions["width"].mean()), "val": val, "test": test,
                  "test_prior_hard": evaluate_predictions(test_predictions, self.prior_hard),
                  "test_reversed": self.evaluate("test", reverse_time=True)[0], "wall_s": wall}
        if self.world > 1:
            record |= {"world_size": self.world, "ranks_in_sync": self.ranks_in_sync()}
        self.history.append(record)
        chosen = record[c.select_on]["mIoU"]
        if self.best is None or chosen > self.best["score"]:
            self.best = {"epoch": self.epoch, "score": chosen}
            if c.save_checkpoints and self.rank == 0:
                atomic_save({"model": self.model.state_dict(), "config": asdict(c), "epoch": self.epoch},
                            self.out / "best.pt")
            if self.rank == 0:
                save_predictions(self.out / "predictions_test.jsonl", test_predictions, self.data.splits["test"].queries)
        if self.rank == 0:                               # one process writes (all hold the same parameters)
            if c.save_checkpoints:
                atomic_save(self.state(), self.out / "last.pt")
            atomic_write_json(self.summary(), self.out / "results.json")
        if self.world > 1:
            torch.distributed.barrier()

    def summary(self) -> dict:
        if not self.history:
            return {}
        chosen = self.history[self.best["epoch"] - 1]
        by_test = max(self.history, key=lambda r: r["test"]["mIoU"])
        return {"config": asdict(self.config), "provenance": provenance(self.config, self.device),
                "epochs_run": self.epoch, "updates": self.updates, "wall_s": self.history[-1]["wall_s"],
                "selected_on": self.config.select_on, "selected_epoch": chosen["epoch"],
                "val_at_selected": chosen["val"], "test_at_selected": chosen["test"],
                "constant_window": [float(x) for x in self.constant_window],
                "test_prior_hard_at_selected": chosen["test_prior_hard"], "prior_hard_count": int(self.prior_hard.sum()),
                "test_reversed_at_selected": chosen["test_reversed"],
                "best_test_epoch": by_test["epoch"], "test_at_best_test_epoch": by_test["test"],
                "history": self.history}


# -- command line ----------------------------------------------------------------------------------------------
def config_parser(defaults: TrainConfig | None = None) -> argparse.ArgumentParser:
    """``--field value`` for every field of :class:`TrainConfig`."""
    defaults = defaults or TrainConfig()
    parser = argparse.ArgumentParser(prog="python -m cnm_minimal.train", description="Train CNM (chapter 9).")
    for field in dataclasses.fields(TrainConfig):
        value = getattr(defaults, field.name)
        kind = {bool: lambda s: s.lower() in ("1", "true", "yes", "on")}.get(type(value), type(value))
        parser.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name, type=kind, default=value,
                            help=f"default: {value}")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt if it exists")
    return parser


def run_from_arguments(args: dict) -> int:
    """Train with the parsed ``--field value`` arguments (plus ``resume``); prints the selected epoch's metrics."""
    resume = args.pop("resume")
    trainer = Trainer(TrainConfig(**args))
    summary = trainer.run(resume=resume)
    if trainer.rank == 0:
        print(json.dumps({k: summary[k] for k in ("selected_epoch", "val_at_selected", "test_at_selected", "wall_s")}))
    return 0


def main(argv=None) -> int:
    return run_from_arguments(vars(config_parser().parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
