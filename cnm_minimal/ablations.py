"""The paper's ablations, as training configurations, run over several seeds by one command (chapter 10).

Each variant changes one thing of the full model (the book's page "The authors' code" lists the paper's
reported effects):

* ``full``: CNM as trained in chapter 9;
* ``no_gaussian``: the Gaussian mask replaced by a steep box over ``[c - w/2, c + w/2]`` (the paper's "w/o
  mask" row does not say what replaced the Gaussian; this is our stated reading: same centre and width,
  another shape);
* ``no_hard``: no hard negative (``L_rec = L^p``, ``L_IVC`` = the easy hinge only);
* ``no_easy``: no easy negative (``L_IVC`` = the hard hinge only);
* ``no_negatives``: neither (``L_IVC`` falls back to ``L^p``, as the authors' code does without negatives);
* ``joint``: one optimiser on ``L_rec + L_IVC`` instead of the alternating scheme.

The same runner trains the probe of chapter 11 (``PROBES``: ``clip_positions``, sinusoidal positions on the
mask generator's clips), e.g. ``--variants full clip_positions``, and CNM's successor CPL beside it
(``SUCCESSORS``: ``cpl``, chapter 12), e.g. ``--variants full cpl``: same data, sizes, schedule and seeds.

``python -m cnm_minimal ablations --data DIR --out DIR --seeds 0 1 2 [--field value ...]`` trains every
variant with every seed and writes one json file per run (the run's summary, with provenance) and an
``ablations.json`` table of mean and standard deviation; runs already finished with the same options are not
repeated (with other options: an error naming them, or ``--overwrite`` trains them again).
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np

from cnm_minimal import registry
from cnm_minimal.atomic import write_json
from cnm_minimal.config import FROM_DATA, ConfigError, TrainConfig, add_config_arguments, from_arguments
from cnm_minimal.train import fit, prepare_data

VARIANTS: dict[str, dict] = {
    "full": {},
    "no_gaussian": {"mask_shape": "box"},
    "no_hard": {"use_hard_negative": False},
    "no_easy": {"use_easy_negative": False},
    "no_negatives": {"use_hard_negative": False, "use_easy_negative": False},
    "joint": {"mode": "joint"},
}

PROBES: dict[str, dict] = {
    "clip_positions": {"clip_positions": True},
}
"""Changes that are not in the paper, run by the same command (chapter 11)."""

SUCCESSORS: dict[str, dict] = {
    a.name: {"architecture": a.name, "mode": a.modes[0]}
    for a in registry.ARCHITECTURES.values()
    if a.name != TrainConfig.architecture
}
"""Every other registered architecture (CPL, :mod:`cnm_minimal.cpl`), trained by its first scheme with the
base configuration's sizes and schedule (chapter 12)."""

PAPER_DIRECTION = {
    "no_gaussian": "lower (ActivityNet: mIoU 34.73 vs 37.14)",
    "no_hard": "lower (Table 4: IoU=0.5 near 31 vs 33.33)",
    "no_easy": "lower (Table 4)",
    "no_negatives": "lower (Table 4: IoU=0.5 near 25 vs 33.33)",
    "joint": "much lower (ActivityNet: mIoU 28.90 vs 37.14)",
}
"""The direction of each effect in the paper's tables; the paper reports one seed."""


def run_ablations(
    base: TrainConfig,
    seeds: list[int],
    out: Path,
    variants: list[str] | None = None,
    work: Path | None = None,
    data=None,
    overwrite: bool = False,
) -> dict:
    """Train every variant x seed (a finished run is reused only if it was made with the same options, else an
    error names them, or with ``overwrite`` it is trained again); returns and writes the summary table. Each
    run's json goes to ``out``, its folder (predictions, results, checkpoints) to ``work`` (default
    ``out/runs``); a run that was interrupted continues from its ``last.pt`` (exactly, chapter 9), or starts
    again if it has none."""
    out.mkdir(parents=True, exist_ok=True)
    work = work or out / "runs"
    for name in variants or list(VARIANTS):
        for seed in seeds:
            result, folder = out / f"{name}_seed{seed}.json", work / f"{name}_seed{seed}"
            config = TrainConfig.build(
                **base.flat()
                | (VARIANTS | PROBES | SUCCESSORS)[name]
                | dict(seed=seed, out=str(folder), progress=False, save_checkpoints=True)
            )
            changed = changed_options(result, config) if result.is_file() else None
            if changed == [] or (changed and not overwrite):
                if changed:
                    raise ConfigError(
                        f"{result}: a finished run with other options ({'; '.join(changed)}); rerun "
                        "it with --overwrite, or choose another --out"
                    )
                continue
            data = data or prepare_data(base)  # once, and only if a run is left to do
            resume = not overwrite and (folder / "last.pt").is_file()
            summary = fit(config, data, resume=resume, overwrite=not resume, log=lambda line: None)
            write_json(result, portable(summary | {"variant": name}))
    return summarise(out)


IGNORED_WHEN_REUSED = {"out", "progress", "device", "num_workers", "cache_features", "save_checkpoints"}
"""Options that do not change a run's numbers (where it ran and how it reported)."""


def changed_options(result: Path, config: TrainConfig) -> list[str]:
    """The options of ``config`` that differ from those the finished run ``result`` recorded."""
    defaults, recorded = (
        asdict(TrainConfig()),
        json.loads(result.read_text())["config"],
    )  # options added since
    recorded = defaults | recorded | {"model": defaults["model"] | recorded.get("model", {})}  # have defaults
    wanted = portable({"config": asdict(config), "provenance": {"command": ""}})["config"]
    flat = [(k, recorded.get(k), wanted[k]) for k in wanted if k != "model"]
    flat += [(k, recorded["model"].get(k), v) for k, v in wanted["model"].items() if k not in FROM_DATA]
    return [
        f"--{k.replace('_', '-')} {old!r} -> {new!r}"
        for k, old, new in flat
        if k not in IGNORED_WHEN_REUSED and old != new
    ]


def portable(summary: dict) -> dict:
    """The run's record, numbers only: ``python /abs/path/__main__.py`` becomes ``-m cnm_minimal``, paths
    under the working folder, in the command and in the configuration, start with ``$PWD/`` (the command
    reruns from the repository root), and the training words without a word vector are counted, not listed
    (they are words of the annotations)."""
    here = str(Path.cwd()) + "/"
    command = summary["provenance"]["command"].replace(here, "$PWD/").split(" ")
    if len(command) > 1 and command[1].endswith(".py") and "cnm_minimal" in command[1]:
        command[1:2] = ["-m", "cnm_minimal"]
    data = summary.get("data", {})
    if isinstance(data.get("words_without_vector"), list):  # already counted: leave it
        data = data | {"words_without_vector": len(data["words_without_vector"])}
    record = summary | {"provenance": summary["provenance"] | {"command": " ".join(command)}, "data": data}
    if "config" in summary:
        record["config"] = {
            k: v.replace(here, "$PWD/") if isinstance(v, str) else v for k, v in summary["config"].items()
        }
    return record


def run_records(out: Path) -> list[Path]:
    """The run records (``VARIANT_seedN.json``) in ``out``, sorted; other json files there are left alone."""
    return [path for path in sorted(out.glob("*_seed*.json")) if re.fullmatch(r".+_seed\d+", path.stem)]


def summarise(out: Path) -> dict:
    """Mean and standard deviation over seeds of the selected epoch's test metrics, per variant; also on the
    prior-hard queries and on the time-reversed test split (chapter 11) where the runs recorded them."""
    parts = {
        "": "test_at_selected",
        "prior_hard_": "test_prior_hard_at_selected",
        "reversed_": "test_reversed_at_selected",
    }
    table: dict[str, dict] = {}
    for path in run_records(out):
        run = json.loads(path.read_text())
        entry = table.setdefault(run["variant"], {"seeds": []} | {prefix: [] for prefix in parts})
        entry["seeds"].append(run["config"]["seed"])
        for prefix, key in parts.items():
            if key in run:
                entry[prefix].append(run[key])
    for name, entry in table.items():
        for prefix in parts:
            metrics = entry.pop(prefix)
            if len(metrics) == len(entry["seeds"]):
                entry[prefix + "mean"] = {k: float(np.mean([m[k] for m in metrics])) for k in metrics[0]}
                entry[prefix + "std"] = {k: float(np.std([m[k] for m in metrics])) for k in metrics[0]}
        entry["paper"] = PAPER_DIRECTION.get(name, "")
    write_json(out / "ablations.json", table)
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cnm_minimal ablations", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=None, choices=list(VARIANTS | PROBES | SUCCESSORS))
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="train again the seeds whose finished runs were made with other options",
    )
    add_config_arguments(parser)
    args = parser.parse_args(argv)
    base = from_arguments(args)
    table = run_ablations(base, args.seeds, Path(base.out), args.variants, overwrite=args.overwrite)
    for name, entry in table.items():
        print(
            f"{name:14s} mIoU {100 * entry['mean']['mIoU']:5.1f} +- {100 * entry['std']['mIoU']:4.1f}  "
            f"(seeds {entry['seeds']})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
