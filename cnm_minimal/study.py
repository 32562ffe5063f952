"""When does the contrastive signal exist? A controlled study on simulated timelines (chapter 10).

The paper credits CNM's gains to its negatives: the easy negative (the clips the mask suppresses) and the hard one
(the whole video), which matters "when the video holds other actions on the same objects". Whether a negative can
teach anything depends on the data, so the study changes the data one factor at a time and trains the paper's
ablations on each version, over several seeds:

* ``measured``: the timeline sample's recipe (actions that share an object or a verb at the rates measured on the
  real Charades timelines, and the real temporal prior);
* ``no_confusers``: no further action of a video shares the queried action's object or verb;
* ``balanced``: the real rates, but every position in the video equally likely (no temporal prior to fall back on).

Every run records, per epoch, the reconstruction gaps the IVC hinges see (hard - positive, easy - positive, on
validation), and at the selected epoch mIoU on all / prior-hard / time-reversed test queries and the correlation of
predicted and true centres. ``python -m cnm_minimal study --out book/results/study`` reruns it (runs already done are
kept); ``study.json`` holds the table, one json per run the details and provenance.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from cnm_minimal.ablations import VARIANTS, run_ablations
from cnm_minimal.atomic import write_json
from cnm_minimal.config import TrainConfig, add_config_arguments, from_arguments
from cnm_minimal.data.simulate import TIMELINE_SAMPLE, TimelineRecipe, make_timeline_sample

CONDITIONS: dict[str, dict] = {
    "measured": {},
    "no_confusers": {"same_object": 0.0, "same_verb": 0.0},
    "balanced": {"prior": "balanced"},
}
"""How each version of the data differs from the timeline sample's recipe."""

METRICS = ("test_at_selected", "test_prior_hard_at_selected", "test_reversed_at_selected")


def condition_data(name: str, work: Path, num_videos: int, seed: int) -> Path:
    """Write (once) the data of one condition into ``work/data/<name>``."""
    folder = work / "data" / name
    if not (folder / "manifest.json").is_file():
        recipe = replace(TimelineRecipe(verbs=TIMELINE_SAMPLE["verbs"]), **CONDITIONS[name])
        make_timeline_sample(folder, num_videos, seed, recipe)
    return folder


def run_study(base: TrainConfig, conditions: list[str], variants: list[str], seeds: list[int], out: Path,
              work: Path, num_videos: int, data_seed: int) -> dict:
    """Every condition x variant x seed (finished runs are kept); writes and returns ``study.json``."""
    for name in conditions:
        folder = condition_data(name, work, num_videos, data_seed)
        config = TrainConfig.build(**base.flat() | {"data": str(folder), "out": str(work / "runs" / name)})
        run_ablations(config, seeds, out / name, variants, work=work / "runs" / name)
    return summarise_study(out)


def _mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "n": len(values)}


def summarise_study(out: Path) -> dict:
    """Per condition and variant: mean and std over seeds of mIoU (all, prior-hard, reversed), the centre
    correlation and the final validation gaps; and the mean gap curves over epochs."""
    table: dict[str, dict] = {}
    for path in sorted(out.glob("*/*_seed*.json")):
        run = json.loads(path.read_text())
        entry = table.setdefault(path.parent.name, {}).setdefault(run["variant"], {"runs": []})
        entry["runs"].append(run)
    for condition, variants in table.items():
        for variant, entry in variants.items():
            runs = entry.pop("runs")
            entry["seeds"] = [r["config"]["seed"] for r in runs]
            for key in METRICS:
                entry[key.removesuffix("_at_selected")] = _mean_std([100 * r[key]["mIoU"] for r in runs if r[key]])
            entry["centre_correlation"] = _mean_std([r["centre_correlation_at_selected"] for r in runs])
            for gap in ("gap_hard", "gap_easy"):
                curves = np.array([[h["val_gaps"][gap] for h in r["history"]] for r in runs])
                entry[gap + "_by_epoch"] = curves.mean(axis=0).round(5).tolist()
    write_json(out / "study.json", table)
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnm_minimal study", description=__doc__.split("\n")[0])
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=list(CONDITIONS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--work", type=Path, default=Path("runs/study"), help="data and run folders (not committed)")
    parser.add_argument("--num-videos", type=int, default=TIMELINE_SAMPLE["num_videos"])
    parser.add_argument("--data-seed", type=int, default=TIMELINE_SAMPLE["seed"])
    add_config_arguments(parser)
    args = parser.parse_args(argv)
    base = from_arguments(args)
    table = run_study(base, args.conditions, args.variants, args.seeds, Path(base.out), args.work, args.num_videos,
                      args.data_seed)
    for condition, variants in table.items():
        for variant, e in variants.items():
            print(f"{condition:13s} {variant:13s} all {e['test']['mean']:5.1f}  prior-hard "
                  f"{e['test_prior_hard']['mean']:5.1f}  reversed {e['test_reversed']['mean']:5.1f}  centre r "
                  f"{e['centre_correlation']['mean']:5.2f}  (seeds {e['seeds']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
