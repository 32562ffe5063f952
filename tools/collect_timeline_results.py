"""Copy the numbers of the runs on timeline features of the real annotations into book/results/timelines/.

The runs themselves (``python -m cnm_minimal ablations --variants full ...``, commands in each json's
provenance) write into runs/, which is never committed: their prediction files hold the real sentences. What
is committed is numbers only: each run's summary (metrics per epoch, configuration, provenance), the table
over seeds, and a 2-D histogram of predicted against true moment centres on the test split (counts in 20 x 20
bins, no per-query rows); with ``--baselines``, also chapter 11's video-blind baselines on the runs' own test
splits (``baselines.json``); with ``--proposals``, for each CPL run whose checkpoint is there, where its K
proposals lie on the test split (``<run>_proposals.json``: per proposal, the mean and spread over queries of
its centre and width, and how often it is the answer; chapter 12).

    python tools/collect_timeline_results.py runs/real_cnm book/results/timelines/cnm_split [--baselines]
    [--proposals] [--recipe cnm-split --data DIR]

``--recipe`` writes each record as the book commits it: the data root shown as ``$CNM_DATA``, the word vectors
as ``$CNM_WORD_VECTORS``, the recipe that reruns it named in its provenance.
"""

import argparse
import json
import shutil
from pathlib import Path

import torch

from cnm_minimal import registry
from cnm_minimal.atomic import write_json
from cnm_minimal.bias import baseline_table
from cnm_minimal.checkpoints import model_from_checkpoint
from cnm_minimal.config import TrainConfig
from cnm_minimal.evaluate import centre_histogram as evaluate_centre_histogram
from cnm_minimal.evaluate import read_predictions, split_loader
from cnm_minimal.reproduce import path_labels, portable_results
from cnm_minimal.train import prepare_data


def centre_histogram(predictions: Path, bins: int = 20) -> dict:
    return evaluate_centre_histogram(read_predictions(predictions), bins)


def run_data(run: dict):
    """The data a committed record was trained on (a portable record's ``$PWD/`` paths read from the current
    folder)."""
    here = str(Path.cwd()) + "/"
    values = {
        k: v.replace("$PWD/", here) if isinstance(v, str) else v
        for k, v in run["config"].items()
        if k != "model"
    } | {"cache_features": False}
    return prepare_data(TrainConfig.build(**values, model=run["config"]["model"]))


@torch.no_grad()
def proposal_spread(checkpoint: Path, data, batch_size: int = 64) -> dict:
    """Where a CPL checkpoint's K proposals lie on the test split: for each proposal k (in the head's order),
    the mean and standard deviation over queries of its segment's centre and width, and the share of queries
    whose answer it is. A spread near 0 means proposal k is the same window for every query."""
    model = model_from_checkpoint(checkpoint).model.eval()
    segments, answers = [], []
    with torch.random.fork_rng(devices=[]):  # the masked words of CPL's inference, seeded
        torch.manual_seed(0)
        for batch in split_loader(data.splits["test"], data.embeddings, batch_size):
            out = model.predict_batch(batch)
            segments.append(out.proposals)
            answers.append(out.nll.argmin(dim=-1))
    segments, answers = torch.cat(segments), torch.cat(answers)
    centre, width = segments.mean(dim=-1), segments[..., 1] - segments[..., 0]
    share = torch.bincount(answers, minlength=segments.shape[1]).double() / len(answers)
    return {
        "queries": len(answers),
        "centre_mean": centre.mean(0).tolist(),
        "centre_std": centre.std(0).tolist(),
        "width_mean": width.mean(0).tolist(),
        "width_std": width.std(0).tolist(),
        "answer_share": share.tolist(),
    }


def blind_baselines(run: dict) -> dict:
    """Chapter 11's video-blind baselines (:func:`~cnm_minimal.bias.baseline_table`), chosen on the run's own
    training split and scored on each of its test splits: the same queries the run was scored on (a portable
    record's ``$PWD/`` paths are read from the current folder)."""
    data = run_data(run)
    return {
        split: baseline_table(data.splits["train"].queries, data.splits[split].queries)
        for split in sorted(set(data.splits) - {"train", "val"})
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the ablations command's --out")
    parser.add_argument("target", type=Path, help="the folder under book/results/")
    parser.add_argument("--baselines", action="store_true")
    parser.add_argument("--proposals", action="store_true")
    parser.add_argument("--recipe", help="the reproduce recipe the runs came from: records are made portable")
    parser.add_argument("--data", type=Path, default=Path("data"), help="the data root the runs read")
    args = parser.parse_args(argv)
    source, target = args.source, args.target
    target.mkdir(parents=True, exist_ok=True)
    labels = path_labels(args.data, source) if args.recipe else None
    if labels and not args.data.is_absolute():  # a record's own $PWD/data/... is the data root too
        labels[f"$PWD/{args.data}"] = "$CNM_DATA"
    records = sorted(source.glob("*_seed*.json"))
    tables = [source / name for name in ("ablations.json", "diagnosis.json") if (source / name).is_file()]
    for path in records + tables:
        if labels and path in records:
            write_json(
                target / path.name, portable_results(json.loads(path.read_text()), labels, args.recipe)
            )
        else:
            shutil.copyfile(path, target / path.name)
        run = source / "runs" / path.stem / "predictions_test.jsonl"
        if run.is_file():
            write_json(target / f"{path.stem}_centres.json", centre_histogram(run))
    if args.baselines:
        write_json(target / "baselines.json", blind_baselines(json.loads(records[0].read_text())))
    if args.proposals:
        data = None
        for path in records:
            checkpoint = source / "runs" / path.stem / "best.pt"
            run = json.loads(path.read_text())
            if checkpoint.is_file() and hasattr(
                registry.get(run["config"]["architecture"]).config, "num_proposals"
            ):
                data = data or run_data(run)
                write_json(target / f"{path.stem}_proposals.json", proposal_spread(checkpoint, data))
    print(f"{source} -> {target}: {sorted(p.name for p in target.iterdir())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
