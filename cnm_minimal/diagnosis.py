"""Where does CNM's signal die? The instruments of chapter 10, section 10.6.

A trained CNM holds two readers of the video: the mask generator, whose Gaussian is the model's answer, and
the reconstructor, which says how well any weighting of the clips explains the query. This module asks each of
them, on the same test queries, and measures what lies between:

* **the reconstructor as a scorer** (:class:`ReconstructorScorer`): candidate Gaussians of one width at the
  centres ``c_1..c_K`` are scored by the positive sample's loss, the words masked once per query, and the
  answer is the best candidate, ``c* = argmin_k L^p(c_k, w)`` (Eq. 10.3). It has the interface of a model's
  inference (``predict_batch``), so chapter 11's scores (every query, prior-hard, time-reversed, centre
  correlation) apply to it unchanged;
* **the landscape** (:func:`landscape`): the positive, easy and hard losses and the two hinges of Eq. 9.2 as
  functions of the Gaussian's centre (width fixed), averaged by band of the true centre (Eq. 10.4);
* **the gradients** (:func:`centre_gradients`): what step A (``L_rec``) and step B (``L_IVC``) send to the
  head's centre and width for each query, against the direction of the true centre, and how often the hinges
  are active at the head's own mask;
* **the probe** (:func:`probe_correlation`): can a linear map (ridge regression, the head's own form) read
  the true centre from the generator's state ``h``? Fitted to the scorer's answers instead of the truth, it is
  the best warm start a head on that state could be given.

:func:`diagnose` runs all four on a trained model; :func:`run_diagnosis` trains the runs of an experiment
(seeds and interventions, each a set of options of the ordinary trainer), keeps the first epoch's checkpoint
beside the last, and writes one record per run with provenance; ``python -m cnm_minimal diagnose`` is its
command line. The runs are CNM as the authors define it unless an intervention says otherwise: an
intervention is evidence about the mechanism, not a new method.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from cnm_minimal.ablations import changed_options, portable
from cnm_minimal.atomic import write_json
from cnm_minimal.baselines import best_constant_window
from cnm_minimal.checkpoints import load_checkpoint, model_from_checkpoint, provenance, save_checkpoint
from cnm_minimal.config import ConfigError, TrainConfig, add_config_arguments, from_arguments
from cnm_minimal.data.dataset import Collate
from cnm_minimal.evaluate import predict_split, score_split, split_loader
from cnm_minimal.gaussian_mask import predict_segment
from cnm_minimal.losses import hinge, reconstruction_loss
from cnm_minimal.negatives import mine_samples
from cnm_minimal.train import fit, prepare_data

CENTRES = tuple(round(0.05 * k, 2) for k in range(1, 20))
"""The candidate centres of the scorer and of the landscape: 0.05, 0.10, ..., 0.95."""
SCORER_WIDTH = 0.3
"""The scorer's candidate width (about the mean moment of Charades-STA, 0.29 of the video)."""
BANDS = ((0.0, 1 / 3), (1 / 3, 2 / 3), (2 / 3, 1.0))
"""The landscape's bands of true centre: first, middle and last third of the video."""


class ScorerPrediction(NamedTuple):
    segment: torch.Tensor  # [B, 2]
    centre: torch.Tensor  # [B]
    width: torch.Tensor  # [B]


def losses_under_masks(model, x, word_ids: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """The per-sentence reconstruction loss ``[B, K]`` of every query under each of its K clip weightings
    ``masks [B, K, P]``, with the words ``x`` masked once (the same masked words for every weighting)."""
    batch, k = masks.shape[:2]
    logits = model.reconstruct(
        x.slots.repeat_interleave(k, 0),
        x.sentence.repeat_interleave(k, 0),
        (~x.counted).repeat_interleave(k, 0),
        masks.reshape(batch * k, -1),
    )
    return model.sentence_losses(
        logits, word_ids.repeat_interleave(k, 0), x.counted.repeat_interleave(k, 0)
    ).view(batch, k)


def candidate_masks(model, centres, width: float, batch: int, slots: int, device) -> torch.Tensor:
    """The model's masks ``[B, K, P]`` at the candidate ``centres`` with one ``width``."""
    c = torch.tensor(centres, dtype=torch.float32, device=device)
    return model.mask(c, torch.full_like(c, width), slots).expand(batch, -1, -1)


class ReconstructorScorer:
    """A trained CNM's reconstructor as a localiser: the candidate Gaussian whose positive sample reconstructs
    the query best (Eq. 10.3). Has the inference interface of a model (``eval``, ``predict_batch``); the
    masked words are drawn from torch's default generator, which :func:`~cnm_minimal.evaluate.predict_split`
    seeds."""

    def __init__(self, model, centres=CENTRES, width: float = SCORER_WIDTH):
        self.model, self.centres, self.width = model, tuple(centres), width

    def eval(self) -> ReconstructorScorer:
        self.model.eval()
        return self

    @torch.no_grad()
    def losses(self, batch, frames: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, K]``: the positive loss at each candidate centre."""
        frames = batch.frames if frames is None else frames
        x = self.model.prepare(frames, batch.words, batch.lengths, batch.word_ids.shape[1], batch.weights)
        masks = candidate_masks(
            self.model, self.centres, self.width, len(batch), x.slots.shape[1], frames.device
        )
        return losses_under_masks(self.model, x, batch.word_ids, masks)

    def predict_batch(self, batch, frames: torch.Tensor | None = None) -> ScorerPrediction:
        best = self.losses(batch, frames).argmin(dim=1)
        centre = torch.tensor(self.centres, device=best.device)[best]
        width = torch.full_like(centre, self.width)
        return ScorerPrediction(predict_segment(centre, width), centre, width)


@torch.no_grad()
def landscape(model, loader, width: float, centres=CENTRES, seed: int = 0) -> dict[str, np.ndarray]:
    """Per query: the positive and easy losses at each candidate centre ``[n, K]`` (width fixed), the hard
    loss ``[n]``, the true centre ``[n]`` (words masked with ``seed``, the same for all samples)."""
    model.eval()
    rng, parts = torch.Generator().manual_seed(seed), {"positive": [], "easy": [], "hard": [], "truth": []}
    for batch in loader:
        x = model.prepare_batch(batch, rng)
        masks = candidate_masks(model, centres, width, len(batch), x.slots.shape[1], batch.frames.device)
        samples = torch.cat([masks, 1.0 - masks, torch.ones_like(masks[:, :1])], dim=1)
        losses = losses_under_masks(model, x, batch.word_ids, samples)
        k = len(centres)
        parts["positive"].append(losses[:, :k])
        parts["easy"].append(losses[:, k : 2 * k])
        parts["hard"].append(losses[:, -1])
        parts["truth"].append(batch.moments.mean(dim=1))
    return {name: torch.cat(values).float().cpu().numpy() for name, values in parts.items()}


def band_curves(land: dict[str, np.ndarray], beta1: float, beta2: float) -> list[dict]:
    """The landscape averaged by band of true centre (Eq. 10.4): per band the positive loss minus its mean
    over candidates, the easy loss minus the hard one, ``L_IVC`` at each candidate, and the share of queries
    whose hard and easy hinges are active there."""
    pos, easy, hard = land["positive"], land["easy"], land["hard"][:, None]
    hinge_hard, hinge_easy = pos - hard + beta1, pos - easy + beta2
    ivc = np.maximum(hinge_hard, 0) + np.maximum(hinge_easy, 0)
    rows = []
    for low, high in BANDS:
        keep = (land["truth"] >= low) & (land["truth"] < high if high < 1 else land["truth"] <= high)
        if not keep.any():
            continue
        rows.append(
            {
                "band": [round(low, 3), round(high, 3)],
                "queries": int(keep.sum()),
                "positive_centred": (pos[keep] - pos[keep].mean(axis=1, keepdims=True)).mean(axis=0).tolist(),
                "easy_minus_hard": (easy[keep] - hard[keep]).mean(axis=0).tolist(),
                "ivc": ivc[keep].mean(axis=0).tolist(),
                "hard_hinge_active": (hinge_hard[keep] > 0).mean(axis=0).tolist(),
                "easy_hinge_active": (hinge_easy[keep] > 0).mean(axis=0).tolist(),
            }
        )
    return rows


def centre_gradients(model, loader, seed: int = 0) -> dict[str, np.ndarray]:
    """Per query, at the head's own mask (dropout off, words masked with ``seed``): the head's centre, width
    and the true centre, and the gradients that step A (``L_rec``, Eq. 8) and step B (``L_IVC``, Eq. 9) send
    to the centre and the width, per query (the batch mean's gradient times the batch size); and whether each
    hinge is active."""
    model.eval()
    rng, c = torch.Generator().manual_seed(seed), model.config
    names = ("centre", "width", "truth", "a_centre", "a_width", "b_centre", "b_width", "hard_on", "easy_on")
    parts: dict[str, list] = {name: [] for name in names}
    for batch in loader:
        with torch.no_grad():
            x = model.prepare_batch(batch, rng)
            centre, width = model.generate_mask(x.clips, x.words, batch.lengths)
        centre, width = centre.clone().requires_grad_(True), width.clone().requires_grad_(True)
        mask = model.mask(centre, width, x.slots.shape[1])
        with torch.enable_grad():
            nll = model.sample_losses(x, batch.word_ids, mine_samples(mask))
        step_a = reconstruction_loss(nll["positive"], nll["hard"]) * len(batch)
        step_b = (
            hinge(nll["positive"], nll["hard"], c.beta1) + hinge(nll["positive"], nll["easy"], c.beta2)
        ) * len(batch)
        grads_a = torch.autograd.grad(step_a, (centre, width), retain_graph=True)
        grads_b = torch.autograd.grad(step_b, (centre, width))
        values = {
            "centre": centre,
            "width": width,
            "truth": batch.moments.mean(dim=1),
            "a_centre": grads_a[0],
            "a_width": grads_a[1],
            "b_centre": grads_b[0],
            "b_width": grads_b[1],
            "hard_on": nll["positive"] - nll["hard"] + c.beta1 > 0,
            "easy_on": nll["positive"] - nll["easy"] + c.beta2 > 0,
        }
        for name, value in values.items():
            parts[name].append(value.detach().float().cpu())
    return {name: torch.cat(values).numpy() for name, values in parts.items()}


def gradient_summary(grads: dict[str, np.ndarray], far: float = 0.1) -> dict:
    """What each step tells the head, over the queries whose true centre is more than ``far`` from the head's:
    the share whose descent direction (minus the gradient) points toward the true centre, among those with a
    non-zero gradient; the mean size of the gradient; the share with no gradient at all; and the share whose
    descent widens the mask. Also the share of all queries with each hinge active."""
    toward = np.sign(grads["truth"] - grads["centre"])
    keep = np.abs(grads["truth"] - grads["centre"]) > far
    row = {"queries_far": int(keep.sum()), "queries": len(toward)}
    for step in ("a", "b"):
        g, gw = grads[f"{step}_centre"][keep], grads[f"{step}_width"]
        moving = g != 0
        agree = (np.sign(-g) == toward[keep]) & moving
        row[f"step_{step}"] = {
            "toward_truth": float(agree.sum() / max(moving.sum(), 1)),
            "mean_abs_centre_gradient": float(np.abs(g).mean()) if len(g) else 0.0,
            "no_gradient": float(1 - moving.mean()) if len(g) else 0.0,
            "widens": float((gw < 0).mean()),
        }
    row["hard_hinge_active"] = float(grads["hard_on"].mean())
    row["easy_hinge_active"] = float(grads["easy_on"].mean())
    return row


@torch.no_grad()
def generator_states(model, loader) -> tuple[np.ndarray, np.ndarray]:
    """The generator's state ``h [n, d]`` (what the Gaussian head reads) and the true centres ``[n]``."""
    model.eval()
    states, truth = [], []
    for batch in loader:
        clips, words = model.embed(batch.frames, batch.words)
        states.append(model.generator_state(clips, words, batch.lengths).float().cpu())
        truth.append(batch.moments.mean(dim=1).cpu())
    return torch.cat(states).numpy(), torch.cat(truth).numpy()


def ridge_fit(x: np.ndarray, y: np.ndarray, strength: float) -> tuple[np.ndarray, float]:
    """Weights and intercept of ridge regression ``y ~ x w + b`` (penalty ``strength`` on ``|w|^2``)."""
    mean_x, mean_y = x.mean(axis=0), y.mean()
    xc = x - mean_x
    w = np.linalg.solve(xc.T @ xc + strength * np.eye(x.shape[1]), xc.T @ (y - mean_y))
    return w, float(mean_y - mean_x @ w)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation, 0 where either side is constant."""
    return float(np.corrcoef(a, b)[0, 1]) if np.std(a) > 0 and np.std(b) > 0 else 0.0


def probe_correlation(train, val, test, strengths=(0.1, 1.0, 10.0, 100.0, 1000.0)) -> dict:
    """A linear probe of the true centre from the generator state: ridge regression fitted on ``train``
    (``(states, targets)``: the true centres, or the scorer's answers), its strength chosen on ``val``
    (``(states, true centres)``); the correlation of its answers with the true centres of ``test``."""
    fits = {s: ridge_fit(*train, s) for s in strengths}
    score = {s: correlation(val[0] @ w + b, val[1]) for s, (w, b) in fits.items()}
    best = max(score, key=score.get)
    w, b = fits[best]
    return {"strength": best, "val_r": score[best], "test_r": correlation(test[0] @ w + b, test[1])}


def scores_row(rows: dict) -> dict:
    """The numbers of :func:`~cnm_minimal.evaluate.score_split` kept in a record: mIoU of every query, of the
    prior-hard ones and of the time-reversed split, R@0.5 and the centre correlation."""
    return {
        "mIoU": rows["all"]["mIoU"],
        "R@0.5": rows["all"]["R@0.5"],
        "prior_hard_mIoU": rows["prior_hard"]["mIoU"] if "prior_hard" in rows else None,
        "reversed_mIoU": rows["reversed"]["mIoU"],
        "centre_r": rows["centre_correlation"],
    }


LANDSCAPE_QUERIES = 1000
"""The landscape's test queries, at most (a seeded draw; the sample's test split has 233)."""
PROBE_SCORED = 2000
"""The training queries the scorer answers for the probe of its answers, at most (a seeded draw; the sample
has 706)."""


def drawn_loader(data, split: str, limit: int, batch_size: int, seed: int = 0):
    """The batches of at most ``limit`` queries of a split, a seeded draw kept in the split's order (all of
    them when the split is no larger)."""
    dataset = data.splits[split]
    if len(dataset) > limit:
        chosen = np.sort(np.random.default_rng(seed).choice(len(dataset), limit, replace=False))
        dataset = torch.utils.data.Subset(dataset, chosen.tolist())
    return split_loader(dataset, data.embeddings, batch_size)


def diagnose(model, data, constant_window, batch_size: int = 64, seed: int = 0) -> dict:
    """The four instruments on a trained CNM and prepared data: the head's and the scorer's test scores, the
    landscape by band (width at the head's mean width on the test split), the gradients, the probe."""
    loader = {name: split_loader(data.splits[name], data.embeddings, batch_size) for name in data.splits}
    test = data.splits["test"]
    head_rows, predictions = score_split(model, test, data.embeddings, "cpu", batch_size, constant_window)
    scorer_rows, _ = score_split(
        ReconstructorScorer(model), test, data.embeddings, "cpu", batch_size, constant_window
    )
    width = float(np.mean(predictions["width"]))
    grads = centre_gradients(model, loader["test"], seed)
    states = {name: generator_states(model, loader[name]) for name in ("train", "val", "test")}
    scored = predict_split(
        ReconstructorScorer(model), drawn_loader(data, "train", PROBE_SCORED, batch_size), "cpu"
    )
    scored_states = states["train"][0][scored["index"].astype(np.int64)]  # rows in dataset order
    c = model.config
    return {
        "head": scores_row(head_rows) | {"mean_width": width},
        "scorer": scores_row(scorer_rows) | {"width": SCORER_WIDTH, "centres": list(CENTRES)},
        "landscape": {
            "width": width,
            "queries": min(len(test), LANDSCAPE_QUERIES),
            "bands": band_curves(
                landscape(model, drawn_loader(data, "test", LANDSCAPE_QUERIES, batch_size), width, seed=seed),
                c.beta1,
                c.beta2,
            ),
        },
        "gradients": gradient_summary(grads),
        "probe": probe_correlation(states["train"], states["val"], states["test"]),
        "probe_of_scorer": probe_correlation(
            (scored_states, scored["centre"]), states["val"], states["test"]
        ),
    }


INTERVENTIONS = {
    "cnm": {},
    "joint": {"mode": "joint"},
    "clip_positions": {"clip_positions": True},
    "width_cap_0.2": {"max_width": 0.2},
    "margins_x3": {"beta1": 0.3, "beta2": 0.45},
    "step_b_x4": {"generator_updates": 4},
    "joint_clip_positions": {"mode": "joint", "clip_positions": True},
}
"""The experiment's runs: CNM as the authors train it, and each intervention as the options it changes
(the paper's joint ablation, chapter 11's clip positions, a lower cap on the width, margins three times the
authors', four updates of step B per batch, and the joint scheme with clip positions)."""


WARM_START = "warm_start"
"""The procedural intervention: half the epochs as the authors train, then the mask generator (trunk and head)
regressed for four epochs onto the scorer's answers (:func:`warm_start_generator`), then the other half."""


def generator_parameters(model) -> list[torch.nn.Parameter]:
    """What mask generation runs through: the projections, the start token, both decoders and the head (all
    but the mask token and the word classifier, which only reconstruction uses)."""
    skip = {id(model.mask_token), *(id(p) for p in model.word_head.parameters())}
    return [p for p in model.parameters() if id(p) not in skip]


def warm_start_generator(
    model, data, batch_size: int, epochs: int = 4, lr: float = 1e-3, seed: int = 0
) -> float:
    """``epochs`` passes of the mask generator regressed onto the scorer's answers on the training split
    (mean squared error of the centre; the scorer is the model's own reconstructor, no ground truth is read);
    returns the last batch's loss."""
    loader = torch.utils.data.DataLoader(
        data.splits["train"],
        batch_size=batch_size,
        shuffle=True,
        collate_fn=Collate(data.embeddings),
        generator=torch.Generator().manual_seed(seed),
    )
    scorer, parameters = ReconstructorScorer(model), generator_parameters(model)
    optimizer = torch.optim.Adam(parameters, lr=lr)
    loss = torch.zeros(())
    for batch in (batch for _ in range(epochs) for batch in loader):
        target = scorer.predict_batch(batch).centre  # eval mode, no gradient
        model.train()
        clips, words = model.embed(batch.frames, batch.words)
        centre = model.generate_mask(clips, words, batch.lengths)[0]
        loss = torch.nn.functional.mse_loss(centre, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scorer.eval()
    return float(loss.detach())


def warm_start_checkpoint(path: Path, data, batch_size: int, seed: int) -> None:
    """Apply :func:`warm_start_generator` to the model of the resumable checkpoint ``path``, in place (the
    optimisers' state and the history are kept: the run resumes from it)."""
    state = load_checkpoint(path)
    model = model_from_checkpoint(path).model
    warm_start_generator(model, data, batch_size, seed=seed)
    save_checkpoint(path, state | {"model": model.state_dict()})


NAMES = [*INTERVENTIONS, WARM_START]


def constant_window_of(data) -> tuple[float, float]:
    """The best constant window of the training moments (chapter 11)."""
    moments = np.array([q.moment for q in data.splits["train"].queries]).reshape(-1, 2)
    return best_constant_window(moments)


def diagnose_checkpoint(path: Path, data, batch_size: int) -> dict:
    """:func:`diagnose` on a checkpoint's model."""
    model = model_from_checkpoint(path).model
    return diagnose(model, data, constant_window_of(data), batch_size)


def train_and_diagnose(config: TrainConfig, data, name: str, change: dict) -> dict:
    """Train one run (its first epoch's checkpoint kept as ``first.pt``), diagnose the first and the last
    epoch; the record, portable (numbers only)."""
    folder, quiet = Path(config.out), (lambda line: None)
    fit(replace(config, epochs=1), data, overwrite=True, log=quiet)
    shutil.copyfile(folder / "last.pt", folder / "first.pt")
    extra = {}
    if name == WARM_START:
        fit(replace(config, epochs=config.epochs // 2), data, resume=True, log=quiet)
        warm_start_checkpoint(folder / "last.pt", data, config.batch_size, config.seed)
        extra["after_warm_start"] = diagnose_checkpoint(folder / "last.pt", data, config.batch_size)
    summary = fit(config, data, resume=True, log=quiet)
    record = portable(summary | {"provenance": provenance(config.seed, torch.device("cpu"))})
    return {
        "intervention": name,
        "changes": change,
        "config": record["config"],
        "provenance": record["provenance"],
        "epochs": summary["epochs_run"],
        "wall_s": summary["wall_s"],
        "data": record["data"],
        "history": [
            {"epoch": h["epoch"], "centre_r": h["centre_correlation"], "mean_width": h["mean_width"]}
            for h in summary["history"]
        ],
        "first_epoch": diagnose_checkpoint(folder / "first.pt", data, config.batch_size),
        "last_epoch": diagnose_checkpoint(folder / "last.pt", data, config.batch_size),
    } | extra


def planned_runs(base: TrainConfig, names, rungs, work: Path) -> list[tuple[str, dict]]:
    """The runs of an experiment, ``(name, options changed)``: the interventions ``names`` on ``base``'s
    data, or, with ``rungs``, CNM on each rung of the ladder written from ``base.data`` into ``work/ladder``
    (the subsets train for as many updates as the whole split: epochs scaled by the ratio of queries)."""
    if not rungs:
        return [(name, INTERVENTIONS.get(name, {})) for name in names]
    counts = write_ladder(Path(base.data), work / "ladder")
    runs = []
    for rung in rungs:
        change = {"data": str(work / "ladder" / rung)}
        if rung in SUBSETS:
            change["epochs"] = max(1, round(base.epochs * counts["train"]["matched"] / counts[rung]))
        runs.append((rung, change))
    return runs


def run_diagnosis(
    base: TrainConfig, seeds, names, out: Path, work: Path, overwrite: bool = False, rungs=()
) -> dict:
    """Every run of :func:`planned_runs` with every seed (runs in ``work``, records ``NAME_seedN.json`` in
    ``out``; a finished record made with the same options is kept, one made with others is an error unless
    ``overwrite``); then ``diagnosis.json``, the mean and spread over seeds."""
    out.mkdir(parents=True, exist_ok=True)
    runs, data = planned_runs(base, names, rungs, work), {}
    for name, change in runs:
        for seed in seeds:
            config = TrainConfig.build(
                **base.flat() | change | {"seed": seed, "out": str(work / f"{name}_seed{seed}")}
            )
            result = out / f"{name}_seed{seed}.json"
            if result.is_file() and not overwrite:
                changed = changed_options(result, config)
                if not changed:
                    continue
                raise ConfigError(
                    f"{result}: a finished run with other options ({'; '.join(changed)}); rerun it with "
                    "--overwrite, or choose another --out"
                )
            if config.data not in data:  # once per data set (the seeds share the validation split)
                data[config.data] = prepare_data(replace(base, data=config.data))
            write_json(result, train_and_diagnose(config, data[config.data], name, change))
    return summarise(out, [name for name, _ in runs])


PRINTED = (("head", "centre_r"), ("scorer", "centre_r"), ("probe", "test_r"))
SUMMARY_KEYS = {
    "head": ("mIoU", "prior_hard_mIoU", "reversed_mIoU", "centre_r", "mean_width"),
    "scorer": ("mIoU", "prior_hard_mIoU", "reversed_mIoU", "centre_r"),
    "probe": ("test_r",),
    "probe_of_scorer": ("test_r",),
}


def summarise(out: Path, names) -> dict:
    """Mean and standard deviation over seeds of the head's and the scorer's scores, the probe, and the
    gradients' agreement with the true centre, per intervention and epoch (first, last)."""
    table = {}
    for name in names:
        records = [json.loads(p.read_text()) for p in sorted(out.glob(f"{name}_seed*.json"))]
        if not records:
            continue
        entry = {"seeds": [r["config"]["seed"] for r in records], "changes": records[0]["changes"]}
        for epoch in ("first_epoch", "last_epoch"):
            values = {
                f"{part}.{key}": [r[epoch][part][key] for r in records]
                for part, keys in SUMMARY_KEYS.items()
                for key in keys
            }
            for step in ("step_a", "step_b"):
                values[f"{step}.toward_truth"] = [
                    r[epoch]["gradients"][step]["toward_truth"] for r in records
                ]
            values["hard_hinge_active"] = [r[epoch]["gradients"]["hard_hinge_active"] for r in records]
            values["easy_hinge_active"] = [r[epoch]["gradients"]["easy_hinge_active"] for r in records]
            entry[epoch] = {
                k: {"mean": float(np.mean(v)), "std": float(np.std(v))}
                for k, v in values.items()
                if None not in v
            }
        table[name] = entry
    summary = {
        "runs": table,
        "provenance": provenance(0, torch.device("cpu")) | {"command": "see the records"},
    }
    write_json(out / "diagnosis.json", summary)
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cnm_minimal diagnose", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--interventions", nargs="+", default=NAMES, choices=NAMES)
    parser.add_argument("--work", required=True, help="the run folders (checkpoints), outside the records")
    parser.add_argument("--overwrite", action="store_true", help="train again runs made with other options")
    parser.add_argument(
        "--ladder",
        nargs="+",
        default=[],
        choices=[*RUNGS, *SUBSETS],
        help="train CNM on these rungs of the sentence ladder, written from --data (CNM's split and the "
        "Charades CSVs) into WORK/ladder, instead of the interventions",
    )
    add_config_arguments(parser)
    args = parser.parse_args(argv)
    base = from_arguments(args)
    table = run_diagnosis(
        base, args.seeds, args.interventions, Path(base.out), Path(args.work), args.overwrite, args.ladder
    )
    for name, entry in table["runs"].items():
        last = entry["last_epoch"]
        cells = [
            f"{k} r {last[f'{k}.{r}']['mean']:5.2f} +- {last[f'{k}.{r}']['std']:4.2f}" for k, r in PRINTED
        ]
        print(f"{name:16s} " + "   ".join(cells))
    return 0


# -- the ladder between real and generated sentences (real timelines) -------------------------------------
RUNGS = ("real", "real_other_video", "templates_paraphrased", "template_fixed")
"""The sentences of each rung, for the queries whose moment matches an action of the video's timeline (IoU
>= 0.5): the real sentence; a real sentence of the same action class from another video; the class name in
one of four templates; the class name in one template."""
SUBSETS = {"real_2500": 2778, "real_745": 828}
"""Rungs of fewer training queries (real sentences, whole videos): the file's queries, about 2,500 and 745
once the validation tenth is carved out."""
TEMPLATES = ("person {}.", "a person is {}.", "someone is {}.", "the person starts {}.")


def ladder_sentence(rung: str, query, action, pool: dict, rng: np.random.Generator) -> str:
    """The sentence of ``query`` (``[vid, duration, moment, sentence]``) on ``rung``, its matched ``action``'s
    class name lowercased in a template, or a sentence of the class's ``pool`` (``[(vid, sentence)]``)."""
    name = action.name.lower()
    if rung == "real":
        return query[3]
    if rung == "template_fixed":
        return TEMPLATES[0].format(name)
    if rung == "templates_paraphrased":
        return TEMPLATES[int(rng.integers(len(TEMPLATES)))].format(name)
    others = [sentence for vid, sentence in pool[action.name] if vid != query[0]] or [query[3]]
    return others[int(rng.integers(len(others)))]


def write_ladder(charades: Path, out: Path, seed: int = 0) -> dict:
    """Write ``out/RUNG/cnm_{train,test}.json`` for every rung of :data:`RUNGS` from CNM's split in
    ``charades`` (with the Charades CSVs); returns the queries kept per split."""
    from cnm_minimal.data.timelines import read_classes, read_timelines
    from cnm_minimal.study import matched_action

    classes = read_classes()
    timelines, _ = read_timelines(sorted(charades.glob("Charades_v1_*.csv")), classes)
    counts, subsets = {}, {}
    for split in ("train", "test"):
        rows = json.loads((charades / f"cnm_{split}.json").read_text())
        kept = []
        for row in rows:
            timeline = timelines.get(row[0])
            moment = [min(max(x / row[1], 0.0), 1.0) for x in row[2]]
            index = matched_action(timeline, moment, row[1]) if timeline else None
            if index is not None:
                kept.append((row, classes[timeline.actions[index].label]))
        pool: dict[str, list] = {}
        for row, action in kept:
            pool.setdefault(action.name, []).append((row[0], row[3]))
        counts[split] = {"queries": len(rows), "matched": len(kept)}
        for rung in RUNGS:
            rng = np.random.default_rng([seed, RUNGS.index(rung), split == "test"])
            rewritten = [[*row[:3], ladder_sentence(rung, row, action, pool, rng)] for row, action in kept]
            write_json(out / rung / f"cnm_{split}.json", rewritten)
    train = json.loads((out / "real" / "cnm_train.json").read_text())
    for rung, wanted in SUBSETS.items():
        subsets[rung] = video_subset(train, wanted, seed)
        write_json(out / rung / "cnm_train.json", subsets[rung])
        shutil.copyfile(out / "real" / "cnm_test.json", out / rung / "cnm_test.json")
    return counts | {rung: len(rows) for rung, rows in subsets.items()}


def video_subset(rows: list, queries: int, seed: int = 0) -> list:
    """The queries of whole videos, drawn in a seeded order until at least ``queries`` are kept."""
    per_video: dict[str, int] = {}
    for row in rows:
        per_video[row[0]] = per_video.get(row[0], 0) + 1
    videos = sorted(per_video)
    kept, count = set(), 0
    for index in np.random.default_rng(seed).permutation(len(videos)):
        if count >= queries:
            break
        kept.add(videos[index])
        count += per_video[videos[index]]
    return [row for row in rows if row[0] in kept]
