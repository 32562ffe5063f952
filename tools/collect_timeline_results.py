"""Copy the numbers of the runs on timeline features of the real annotations into book/results/timelines/.

The runs themselves (``python -m cnm_minimal ablations --variants full ...``, commands in each json's provenance)
write into runs/, which is never committed: their prediction files hold the real sentences. What is committed is
numbers only: each run's summary (metrics per epoch, configuration, provenance), the table over seeds, and a 2-D
histogram of predicted against true moment centres on the test split (counts in 20 x 20 bins, no per-query rows);
with ``--baselines``, also chapter 11's video-blind baselines on the runs' own test splits (``baselines.json``).

    python tools/collect_timeline_results.py runs/real_cnm book/results/timelines/cnm_split [--baselines]
"""

import shutil
import sys
from pathlib import Path

import json

import numpy as np

from cnm_minimal.atomic import write_json
from cnm_minimal.bias import baseline_table
from cnm_minimal.config import TrainConfig
from cnm_minimal.evaluate import read_predictions
from cnm_minimal.train import prepare_data


def centre_histogram(predictions: Path, bins: int = 20) -> dict:
    rows = read_predictions(predictions)
    truth = np.array([sum(r["moment"]) / 2 for r in rows])
    predicted = np.array([r["centre"] for r in rows])
    counts, _, _ = np.histogram2d(truth, predicted, bins=bins, range=[[0, 1], [0, 1]])
    return {"bins": bins, "axes": ["true centre", "predicted centre"], "queries": len(rows),
            "counts": counts.astype(int).tolist(), "pearson_r": float(np.corrcoef(truth, predicted)[0, 1])}


def blind_baselines(run: dict) -> dict:
    """Chapter 11's video-blind baselines (:func:`~cnm_minimal.bias.baseline_table`), chosen on the run's own
    training split and scored on each of its test splits: the same queries the run was scored on (a portable record's
    ``$PWD/`` paths are read from the current folder)."""
    here = str(Path.cwd()) + "/"
    values = {k: v.replace("$PWD/", here) if isinstance(v, str) else v for k, v in run["config"].items()
              if k != "model"} | {"cache_features": False}
    data = prepare_data(TrainConfig.build(**values, model=run["config"]["model"]))
    return {split: baseline_table(data.splits["train"].queries, data.splits[split].queries)
            for split in sorted(set(data.splits) - {"train", "val"})}


def main(source: str, target: str, *options: str) -> int:
    source, target = Path(source), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    records = sorted(source.glob("*_seed*.json"))
    for path in records + [source / "ablations.json"]:
        shutil.copyfile(path, target / path.name)
        run = source / "runs" / path.stem / "predictions_test.jsonl"
        if run.is_file():
            write_json(target / f"{path.stem}_centres.json", centre_histogram(run))
    if "--baselines" in options:
        write_json(target / "baselines.json", blind_baselines(json.loads(records[0].read_text())))
    print(f"{source} -> {target}: {sorted(p.name for p in target.iterdir())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
