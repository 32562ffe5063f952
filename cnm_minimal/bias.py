"""How much of a score is the dataset: the temporal bias of an annotation set, and evaluation where it fails
(chapter 11).

A moment localisation benchmark is biased when *where* a moment is can be guessed without the video. This
module measures that for any annotation set, real or simulated:

* the distributions of the normalised starts, ends and lengths;
* the scores of the baselines that never look at the video (:mod:`cnm_minimal.baselines`: random, the
  temporal-prior sampler, the mean window, the best constant window, the window by duration), all chosen on
  the training split and scored on the test split, with R@1, mIoU and the discounted dR@1 of Charades-CD;
* the **prior-hard** test queries, those where the best constant window reaches IoU < 0.3 with the annotation:

      H = { q : IoU([a*, b*], [s_q, e_q]) < 0.3 },   [a*, b*] = argmax_[a,b] mean_{q in train} IoU([a, b],
      [s_q, e_q])

  a model that learned only the prior fails on them, so their metrics measure what it learned from the video;
* :func:`time_reversed`: where a moment lies when its video is played backwards, ``[1 - e, 1 - s]``. A model
  that reads the clips follows the moment; one that learned "moments start early" does not.

``python -m cnm_minimal.bias --train FILE --test FILE [--durations CSV ...]`` prints the report of any
annotation files; ``--charades DIR`` the report of the real Charades-STA files (CNM's split against the
original one); ``--charades-cd DIR`` the baselines of Charades-CD's test-iid and test-ood splits (with dR@1).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

from cnm_minimal.atomic import write_json
from cnm_minimal.baselines import (
    best_constant_window,
    constant_predictions,
    fit_prior_sampler,
    mean_training_window,
    random_segments,
    sample_prior,
    window_by_duration,
)
from cnm_minimal.data.annotations import (
    AnnotationPolicy,
    Query,
    read_charades_cd,
    read_charades_sta,
    read_cnm_json,
    read_durations,
    read_json_annotations,
)
from cnm_minimal.metrics import as_segments, discounted_metrics, localization_metrics, temporal_iou

PRIOR_HARD_IOU = 0.3
"""A test query is prior-hard when the best constant window's IoU with it is below this."""


def moments_of(queries: list[Query]) -> np.ndarray:
    """The normalised moments ``[Q, 2]`` of a list of queries."""
    return np.array([q.moment for q in queries], dtype=np.float64).reshape(-1, 2)


def prior_hard(test_moments, window, threshold: float = PRIOR_HARD_IOU) -> np.ndarray:
    """Boolean ``[Q]``: the queries on which the constant ``window`` reaches IoU below ``threshold``."""
    test = as_segments(test_moments, "test_moments")
    return temporal_iou(constant_predictions(window, len(test)), test) < threshold


def time_reversed(moments) -> np.ndarray:
    """``[1 - e, 1 - s]`` for each moment: its place when the video is played backwards."""
    moments = as_segments(moments, "moments")
    return np.stack([1.0 - moments[:, 1], 1.0 - moments[:, 0]], axis=1)


def distribution_summary(moments, bins: int = 20) -> dict:
    """Counts in ``bins`` equal bins of [0, 1], mean and median of the normalised starts, ends and lengths."""
    moments = as_segments(moments, "moments")
    edges = np.linspace(0.0, 1.0, bins + 1)
    parts = {"start": moments[:, 0], "end": moments[:, 1], "length": moments[:, 1] - moments[:, 0]}
    return {"count": len(moments), "bins": bins} | {
        name: {
            "mean": round(float(v.mean()), 6),
            "median": round(float(np.median(v)), 6),
            "histogram": np.histogram(np.clip(v, 0.0, 1.0), edges)[0].tolist(),
        }
        for name, v in parts.items()
    }


def _mean_rows(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([row[k] for row in rows])) for k in rows[0]}


def _rounded(row: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 6) for k, v in row.items()}


def baseline_table(
    train: list[Query], test: list[Query], step: float = 0.01, random_seeds: int = 100
) -> dict:
    """Every video-blind baseline, chosen on ``train``, scored on all of ``test``, on its prior-hard queries
    and on the time-reversed test moments (a prior chosen on train, against moments mirrored to ``[1 - e, 1 -
    s]``)."""
    train_m, test_m = moments_of(train), moments_of(test)
    window = best_constant_window(train_m, step)
    hard = prior_hard(test_m, window)
    fixed = {
        "mean training window": constant_predictions(mean_training_window(train_m), len(test_m)),
        "best constant window": constant_predictions(window, len(test_m)),
        "window by duration": window_by_duration(
            train_m, [q.duration for q in train], [q.duration for q in test], step=step
        ),
    }
    randoms = [random_segments(len(test_m), seed) for seed in range(random_seeds)]
    prior = fit_prior_sampler(train_m)
    sampled = [sample_prior(prior, len(test_m), seed) for seed in range(random_seeds)]
    everything = np.ones(len(test_m), bool)
    parts = (
        ("all", everything, test_m),
        ("prior_hard", hard, test_m),
        ("reversed", everything, time_reversed(test_m)),
    )

    def scores(predicted: np.ndarray, truth: np.ndarray) -> dict:
        return localization_metrics(predicted, truth) | discounted_metrics(predicted, truth)

    def row(predictions: list[np.ndarray]) -> dict:  # a part with no query is None, not an error
        return {
            part: _rounded(_mean_rows([scores(p[keep], truth[keep]) for p in predictions]))
            if keep.any()
            else None
            for part, keep, truth in parts
        }

    rows = {
        f"random (mean of {random_seeds} seeds)": row(randoms),
        f"temporal-prior sampler (mean of {random_seeds} seeds)": row(sampled),
    }
    rows |= {name: row([predicted]) for name, predicted in fixed.items()}
    return {
        "window": [round(float(x), 6) for x in window],
        "test_count": len(test_m),
        "prior_hard_count": int(hard.sum()),
        "rows": rows,
    }


def bias_report(train: list[Query], test: list[Query], step: float = 0.01) -> dict:
    """Distributions of both splits and the baseline table (:func:`baseline_table`)."""
    return {
        "distributions": {
            "train": distribution_summary(moments_of(train)),
            "test": distribution_summary(moments_of(test)),
        }
    } | baseline_table(train, test, step)


def charades_sta_report(directory, step: float = 0.01) -> dict:
    """The report on the real Charades-STA files in ``directory`` (the layout of ``download get
    charades-sta``): CNM's filtered split (``cnm_train.json`` / ``cnm_test.json``), and the same constant
    window on the original test split (``charades_sta_test.txt``, ends after the video clipped to its length).
    """
    directory = Path(directory)
    cnm_train, _ = read_cnm_json(directory / "cnm_train.json")
    cnm_test, _ = read_cnm_json(directory / "cnm_test.json")
    durations = read_durations(directory / "Charades_v1_train.csv", directory / "Charades_v1_test.csv")
    clipped = AnnotationPolicy(end_after_duration="clip", start_after_end="drop")
    original_test, report = read_charades_sta(directory / "charades_sta_test.txt", durations, clipped)
    cnm = bias_report(cnm_train, cnm_test, step)
    window = np.array(cnm["window"])
    original = _rounded(
        localization_metrics(constant_predictions(window, len(original_test)), moments_of(original_test))
    )
    return {
        "cnm_split": cnm,
        "original_test": {
            "count": len(original_test),
            "ends_clipped": len(report.clipped),
            "same_window": original,
        },
    }


def charades_cd_report(directory, step: float = 0.01) -> dict:
    """The video-blind baselines of Charades-CD (``charades_{train,test_iid,test_ood}.json`` in
    ``directory``), chosen on its training split, on both test splits (ends after the video clipped, as the
    reader does)."""
    directory = Path(directory)
    train, _ = read_charades_cd(directory / "charades_train.json")
    return {
        split: baseline_table(train, read_charades_cd(directory / f"charades_{split}.json")[0], step)
        for split in ("test_iid", "test_ood")
    }


def run_against_baselines(results: dict, train: list[Query], test: list[Query]) -> dict:
    """A run's selected epoch (its ``results.json``) beside the video-blind baselines chosen on the run's own
    training queries: mIoU and R@0.5 on all test queries, the prior-hard ones and the time-reversed split, the
    centre correlation, and whether the baselines' constant window is the run's."""
    table = baseline_table(train, test)
    model = {
        "all": results["test_at_selected"],
        "prior_hard": results["test_prior_hard_at_selected"],
        "reversed": results["test_reversed_at_selected"],
    }
    keep = (
        "best constant window",
        "random (mean of 100 seeds)",
        "temporal-prior sampler (mean of 100 seeds)",
    )
    rows = {"CNM (epoch chosen on validation)": model} | {name: table["rows"][name] for name in keep}
    return {
        "rows": {
            name: {part: {k: row[part][k] for k in ("mIoU", "R@0.5")} for part in model}
            for name, row in rows.items()
        },
        "centre_correlation": results["centre_correlation_at_selected"],
        "prior_hard_count": table["prior_hard_count"],
        "test_count": table["test_count"],
        "window": table["window"],
        "same_window": table["window"] == [round(x, 6) for x in results["constant_window"]],
    }


def format_run_against_baselines(table: dict) -> str:
    """:func:`run_against_baselines` as text (percent)."""
    hard = f"prior-hard ({table['prior_hard_count']} of {table['test_count']})"
    lines = [
        f"{'':44s}   {'all queries':>13s}   {hard:>13s}   {'time-reversed':>13s}",
        f"{'':44s}" + f"   {'mIoU':>6s} {'R@0.5':>6s}" * 3,
    ]
    for name, row in table["rows"].items():
        lines.append(
            f"{name:44s}   "
            + "   ".join(
                f"{100 * row[part]['mIoU']:6.1f} {100 * row[part]['R@0.5']:6.1f}"
                for part in ("all", "prior_hard", "reversed")
            )
        )
    lines.append(f"centre correlation (predicted vs true, test): {table['centre_correlation']:.2f}")
    return "\n".join(lines)


BIAS_POLICY = AnnotationPolicy(end_after_duration="clip", start_after_end="error")
"""How ``bias --train/--test`` reads a file: an end after the video is clipped (and counted in the line it
prints),
a start after the end is an error naming the file and line."""


def _read(path: Path, durations: dict[str, float] | None) -> list[Query]:
    if path.suffix == ".txt":
        if durations is None:
            raise ValueError(f"{path}: a Charades-STA text file needs --durations (the Charades CSV files)")
        queries, report = read_charades_sta(path, durations, BIAS_POLICY)
    else:
        queries, report = read_json_annotations(path, BIAS_POLICY)
    print(f"{path}: {report}")
    if not queries:
        raise ValueError(f"{path}: no query left to score ({report})")
    return queries


def format_table(table: dict) -> str:
    """The baseline table as text: R@0.3, R@0.5, R@0.7, mIoU on all queries, mIoU on the prior-hard ones
    (percent)."""
    width = max(30, *(len(name) for name in table["rows"]))
    lines = [
        f"best constant window (chosen on train): {table['window']}; {table['prior_hard_count']} of "
        f"{table['test_count']} test queries are prior-hard (IoU < {PRIOR_HARD_IOU} with it)",
        f"{'':{width}s} {'R@0.3':>6} {'R@0.5':>6} {'R@0.7':>6} {'mIoU':>6}   mIoU prior-hard",
    ]
    for name, row in table["rows"].items():
        a = row["all"]
        hard = f"{100 * row['prior_hard']['mIoU']:6.1f}" if row["prior_hard"] else "     -"
        lines.append(
            f"{name:{width}s} {100 * a['R@0.3']:6.1f} {100 * a['R@0.5']:6.1f} {100 * a['R@0.7']:6.1f} "
            f"{100 * a['mIoU']:6.1f}   {hard}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnm_minimal bias", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--train", type=Path, help="training annotations (.txt Charades-STA, CNM or ActivityNet json)"
    )
    parser.add_argument("--test", type=Path, help="test annotations, same formats")
    parser.add_argument(
        "--durations", type=Path, nargs="*", help="Charades CSV files with video lengths (for .txt)"
    )
    parser.add_argument(
        "--charades", type=Path, help="a folder with the real Charades-STA files (CNM vs original split)"
    )
    parser.add_argument(
        "--charades-cd", type=Path, help="a folder with the Charades-CD splits (test-iid and test-ood)"
    )
    parser.add_argument("--step", type=float, default=0.01, help="grid step of the constant-window search")
    parser.add_argument("--json", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    if args.charades:
        report = charades_sta_report(args.charades, args.step)
        print(format_table(report["cnm_split"]))
        print(
            f"the same window on the original test split ({report['original_test']['count']} queries): "
            f"mIoU {100 * report['original_test']['same_window']['mIoU']:.1f}"
        )
    elif args.charades_cd:
        report = charades_cd_report(args.charades_cd, args.step)
        for split, table in report.items():
            print(f"Charades-CD {split}:\n{format_table(table)}")
    elif args.train and args.test:
        durations = read_durations(*args.durations) if args.durations else None
        report = bias_report(_read(args.train, durations), _read(args.test, durations), args.step)
        print(format_table(report))
    else:
        parser.error("give --train and --test, or --charades")
    if args.json:
        command = "python -m cnm_minimal.bias " + " ".join(argv if argv is not None else sys.argv[1:])
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent
            ).stdout.strip()
            or None
        )
        write_json(args.json, report | {"provenance": {"command": command, "git_commit": commit}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
