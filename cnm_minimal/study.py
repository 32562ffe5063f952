"""When does the contrastive signal exist? The controlled study of chapter 10, on timeline features.

The paper's argument for its negatives is about the video: the clips the mask suppresses (the easy negative)
and the whole video (the hard negative) must reconstruct the query *worse* than the proposal, which they can
only do if the query's words are not everywhere in the video. Two things decide that, and the study varies
both:

* **confusers** (measured per query, from the real action timeline): the queried action is the timeline's
  action that matches the moment (temporal IoU >= 0.5); a *confuser* is another action of the same video,
  mostly outside the moment, that shares its object (opening and then closing a door) or its verb.
  :func:`confuser_strata` sorts the test queries into ``distinct`` (no confuser), ``confusable`` (at least
  one) and ``unmatched`` (no action matches the moment);
* **the temporal prior** (varied in training): ``natural`` trains on the videos as they are; ``balanced``
  plays a seeded half of the training videos backwards (:func:`~cnm_minimal.data.dataset.play_backwards`), so
  that where a moment usually lies stops paying; the test split is the same in both.

``python -m cnm_minimal study --charades DIR --data DIR --feature-file F --word-vectors F --out DIR --work
DIR`` trains the paper's six variants (:data:`~cnm_minimal.ablations.VARIANTS`) under both conditions with
every seed (runs already finished are not repeated), then writes ``study.json``: per condition and variant,
mean and standard deviation over seeds of mIoU on every stratum, the prior-hard and time-reversed scores, the
centre correlation and the validation reconstruction gaps. The run folders (per-query predictions: sentences
of the annotations) go to ``--work``, outside the committed results.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from cnm_minimal.ablations import VARIANTS, portable, run_ablations, run_records
from cnm_minimal.atomic import write_json
from cnm_minimal.checkpoints import provenance
from cnm_minimal.config import add_config_arguments, from_arguments
from cnm_minimal.data.timelines import ActionClass, Timeline, read_classes, read_timelines
from cnm_minimal.metrics import temporal_iou

CONDITIONS = {"natural": 0.0, "balanced": 0.5}
"""Each condition's share of training videos played backwards."""

STRATA = ("distinct", "confusable", "unmatched")


def matched_action(timeline: Timeline, moment, duration: float) -> int | None:
    """The index of the timeline's action with the highest temporal IoU with the normalised ``moment`` of a
    video of ``duration`` seconds, if that IoU is at least 0.5."""
    if not timeline.actions:
        return None
    spans = np.clip(np.array([[a.start, a.end] for a in timeline.actions]) / duration, 0.0, 1.0)
    ious = temporal_iou(spans, np.tile(np.asarray(moment, dtype=np.float64), (len(spans), 1)))
    best = int(np.argmax(ious))
    return best if ious[best] >= 0.5 else None


def confusers(
    timeline: Timeline, queried: int, classes: dict[str, ActionClass], moment, duration: float
) -> dict:
    """The other actions of the video, mostly (more than half their length) outside the moment, that share the
    queried action's object, or its verb with another object: ``{"object": n, "verb": n}``."""
    start, end = (x * duration for x in moment)
    kind, counts = classes[timeline.actions[queried].label], {"object": 0, "verb": 0}
    for index, other in enumerate(timeline.actions):
        inside = max(0.0, min(other.end, end) - max(other.start, start))
        if index == queried or inside > 0.5 * (other.end - other.start):
            continue
        its = classes[other.label]
        counts["object"] += kind.object is not None and its.object == kind.object
        counts["verb"] += its.verb == kind.verb and its.object != kind.object
    return counts


def confuser_strata(
    rows: list[dict], timelines: dict[str, Timeline], classes: dict[str, ActionClass]
) -> list[str]:
    """The stratum of each prediction row (``vid``, normalised ``moment``, ``duration``): see the module
    text."""
    strata = []
    for row in rows:
        timeline = timelines.get(row["vid"])
        queried = matched_action(timeline, row["moment"], row["duration"]) if timeline else None
        if queried is None:
            strata.append("unmatched")
            continue
        counts = confusers(timeline, queried, classes, row["moment"], row["duration"])
        strata.append("confusable" if counts["object"] or counts["verb"] else "distinct")
    return strata


def strata_scores(rows: list[dict], strata: list[str]) -> dict:
    """mIoU and R@1,IoU@0.5 of the rows of each stratum, with its count."""
    ious, labels = np.array([r["iou"] for r in rows]), np.array(strata)
    return {
        name: {
            "count": int((labels == name).sum()),  # an empty stratum scores None (json null)
            "mIoU": float(ious[labels == name].mean()) if (labels == name).any() else None,
            "R@0.5": float((ious[labels == name] >= 0.5).mean()) if (labels == name).any() else None,
        }
        for name in STRATA
    }


def run_study(
    base,
    seeds: list[int],
    out: Path,
    work: Path,
    charades: Path,
    variants: list[str] | None = None,
    conditions: dict[str, float] | None = None,
) -> dict:
    """Train every condition x variant x seed (finished runs are kept), then write and return
    ``study.json``."""
    conditions = conditions or CONDITIONS
    for condition, fraction in conditions.items():
        config = type(base).build(**base.flat() | {"reverse_fraction": fraction})
        run_ablations(config, seeds, out / condition, variants, work=work / condition)
    classes = read_classes()
    timelines, _ = read_timelines(sorted(charades.glob("Charades_v1_*.csv")), classes)
    table = {
        condition: summarise_condition(out / condition, work / condition, timelines, classes)
        for condition in conditions
    }
    record = {
        "provenance": provenance(seeds[0], torch.device("cpu")),
        "conditions": conditions,
        "seeds": seeds,
        "strata": STRATA,
        "table": table,
    }
    write_json(out / "study.json", portable(record))
    return table


def run_scores(record: dict, rows: list[dict], strata: list[str]) -> dict:
    """The numbers the study keeps of one run: its selected epoch's scores and its scores per stratum."""
    constant = [
        dict(row, iou=float(temporal_iou(record["constant_window"], row["moment"])[0])) for row in rows
    ]
    gaps = record["val_gaps_at_selected"]
    return (
        {
            "all": record["test_at_selected"]["mIoU"],
            "prior_hard": record["test_prior_hard_at_selected"]["mIoU"],
            "reversed": record["test_reversed_at_selected"]["mIoU"],
            "centre_r": record["centre_correlation_at_selected"],
            "gap_hard": gaps["gap_hard"],
            "gap_easy": gaps["gap_easy"],
            "mean_centre": float(np.mean([row["centre"] for row in rows])),
            "true_mean_centre": float(np.mean([sum(row["moment"]) / 2 for row in rows])),
        }
        | {name: s["mIoU"] for name, s in strata_scores(rows, strata).items()}
        | {"constant_" + name: s["mIoU"] for name, s in strata_scores(constant, strata).items()}
    )


def summarise_condition(out: Path, work: Path, timelines: dict, classes: dict) -> dict:
    """Per variant: mean and standard deviation over seeds of :func:`run_scores`, the seeds, the strata's
    sizes."""
    table, strata = {}, None
    for path in run_records(out):
        record = json.loads(path.read_text())
        rows = [
            json.loads(line)
            for line in (work / path.stem / "predictions_test.jsonl").read_text().splitlines()
        ]
        strata = strata or confuser_strata(rows, timelines, classes)
        entry = table.setdefault(record["variant"], {"seeds": [], "runs": []})
        entry["seeds"].append(record["config"]["seed"])
        entry["runs"].append(run_scores(record, rows, strata))
    for entry in table.values():
        runs = entry.pop("runs")
        known = [k for k in runs[0] if all(r[k] is not None for r in runs)]
        entry["mean"] = {k: float(np.mean([r[k] for r in runs])) if k in known else None for k in runs[0]}
        entry["std"] = {k: float(np.std([r[k] for r in runs])) if k in known else None for k in runs[0]}
        entry["counts"] = {name: strata.count(name) for name in STRATA}
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnm_minimal study", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--charades",
        type=Path,
        required=True,
        help="the folder with Charades_v1_{train,test}.csv (download get charades-sta)",
    )
    parser.add_argument(
        "--work", type=Path, default=Path("runs/study"), help="the run folders (per-query rows)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=None, choices=list(VARIANTS))
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=list(CONDITIONS))
    add_config_arguments(parser)
    args = parser.parse_args(argv)
    base = from_arguments(args)
    table = run_study(
        base,
        args.seeds,
        Path(base.out),
        args.work,
        args.charades,
        args.variants,
        {name: CONDITIONS[name] for name in args.conditions},
    )
    for condition, variants in table.items():
        for name, entry in variants.items():
            m = entry["mean"]
            print(
                f"{condition:9s} {name:13s} all {100 * m['all']:5.1f}  prior-hard "
                f"{100 * m['prior_hard']:5.1f}  "
                f"distinct {100 * m['distinct']:5.1f}  confusable {100 * m['confusable']:5.1f}  "
                f"centre r {m['centre_r']:.2f}  (seeds {entry['seeds']})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
