"""One command per committed result: ``python -m cnm_minimal reproduce NAME --data DIR --out OUT``.

A :class:`Recipe` names what a result needs and the package command that makes it. ``reproduce NAME``

1. fetches the registry's files the recipe needs into the data root ``DIR`` (:mod:`cnm_minimal.data.download`:
   pinned SHA-256, nothing fetched that is already there with the right bytes);
2. builds the timeline features of the real annotations it trains on (Eq. 2.3,
   :mod:`cnm_minimal.data.timelines`) under ``DIR/charades-timelines/``, skipped when the same
   knobs were built there before;
3. runs the command with ``OUT`` as its run folder (``OUT/results.json`` for one run, one json per seed for
   several), continuing an interrupted run where it stopped;
4. prints the table the book shows.

Word vectors: ``--word-vectors FILE`` (GloVe text or ``.npz`` holding the vocabulary's words), else
``$CNM_WORD_VECTORS``, else GloVe 6B in the data root, fetched when missing (822 MB, once; only the
vocabulary's rows are read again later, from a cache beside it). ``reproduce list`` lists the recipes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cnm_minimal.bias import format_run_against_baselines
from cnm_minimal.data.root import (
    GLOVE_FILE,
    WORD_VECTORS_ENV,
    data_root,
    describe,
    repository_root,
    word_vectors_path,
)
from cnm_minimal.data.timelines import TimelineKnobs

BOOK_FEATURES = TimelineKnobs(dim=256)
"""Chapter 9's timeline features: Eq. 2.3 at a quarter of I3D's width, so that a laptop builds them in
seconds."""
FULL_FEATURES = TimelineKnobs()
"""The committed real-timeline runs' features: I3D's width, 1024."""
SIMULATED = "charades-sta-sim-medium"
"""The simulated benchmark of chapter 10's ablations, written into the data root under this name."""


@dataclass(frozen=True)
class Recipe:
    """A committed result: the command that makes it (``{sta}``, ``{cd}``, ``{features}``, ``{word_vectors}``,
    ``{out}`` and ``{repo}`` are filled in), what it needs, and where the book keeps its numbers."""

    name: str
    what: str
    command: str
    arguments: str  # the command's arguments as typed (``{real}``: the real data's three options)
    groups: tuple[str, ...] = ("charades-sta",)
    features: TimelineKnobs | None = FULL_FEATURES
    word_vectors: bool = True
    committed: str = ""
    minutes: str = ""  # the wall time measured on two CPU cores, in words
    simulate: str = ""  # a simulated data set to write first (``simulate`` arguments), unless present
    simulated: str = SIMULATED  # its folder under the data root (``{sim}``)

    def typed(self) -> list[str]:
        """The command's arguments as typed, ``{real}`` expanded, the other placeholders left in."""
        return self.arguments.replace("{real}", _REAL).split()


_REAL = "--data {sta} --feature-file {features} --word-vectors {word_vectors}"
RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "chapter9",
            "chapter 9: CNM on the real Charades-STA annotations, book size (one run)",
            "train",
            "{real} --kept-words 400 --epochs 4 --lr 1e-3 --seed 0 --out {out}",
            features=BOOK_FEATURES,
            committed="book/results/chapter9/results.json",
            minutes="4.0 min with the features",
        ),
        Recipe(
            "cnm-split",
            "chapters 9 and 11: CNM on CNM's split, timeline features, 3 seeds",
            "ablations",
            "--variants full --seeds 0 1 2 {real} --epochs 2 --lr 1e-3 --out {out}",
            committed="book/results/timelines/cnm_split",
            minutes="17 min of training",
        ),
        Recipe(
            "charades-cd",
            "chapter 11: CNM trained and tested on Charades-CD, 3 seeds",
            "ablations",
            "--variants full --seeds 0 1 2 --data {cd} --feature-file {features} "
            "--word-vectors {word_vectors} --epochs 2 --lr 1e-3 --out {out}",
            groups=("charades-sta", "charades-cd"),
            committed="book/results/timelines/charades_cd",
            minutes="22 min of training",
        ),
        Recipe(
            "study",
            "chapter 10: the ablations x temporal prior study (natural and balanced), 3 seeds",
            "study",
            "--charades {sta} --out {out} --work {out}/runs {real} --epochs 1 --lr 1e-3",
            committed="book/results/timelines/study",
            minutes="220 min of training",
        ),
        Recipe(
            "cpl-vs-cnm",
            "chapter 12: CPL (authors' lambda) beside CNM, 3 seeds, Charades-CD scored",
            "ablations",
            "--variants cpl full --seeds 0 1 2 {real} --cd-splits {cd} --epochs 2 --lr 1e-3 --out {out}",
            groups=("charades-sta", "charades-cd"),
            committed="book/results/timelines/cpl_vs_cnm",
            minutes="27 min of training",
        ),
        Recipe(
            "cpl-lambda045",
            "chapter 12: CPL with lambda 0.45, 3 seeds, Charades-CD scored",
            "ablations",
            "--variants cpl --architecture cpl --mode joint --div-lambda 0.45 --seeds 0 1 2 {real} "
            "--cd-splits {cd} --epochs 2 --lr 1e-3 --out {out}",
            groups=("charades-sta", "charades-cd"),
            committed="book/results/timelines/cpl_lambda045",
            minutes="21 min of training",
        ),
        Recipe(
            "full-scale",
            "chapter 13: the authors' configuration, 50 epochs, bfloat16 autocast",
            "train",
            "--config {repo}/configs/charades_i3d.json {real} --cd-splits {cd} --amp true --out {out}",
            groups=("charades-sta", "charades-cd"),
            committed="book/results/full_scale",
            minutes="115 min for 17 of the 50 epochs",
        ),
        Recipe(
            "ablations-sim",
            "chapters 10 and 11: the ablations and the clip-position probe on a simulated benchmark of "
            "1,000 videos, 3 seeds",
            "ablations",
            "--data {sim} --out {out} --epochs 10 --lr 1e-3 --warmup-updates 100 --seeds 0 1 2 "
            "--variants full no_gaussian no_hard no_easy no_negatives joint clip_positions",
            groups=(),
            features=None,
            word_vectors=False,
            simulate="sample --out {sim} --num-videos 1000 --seed 2023",
            committed="book/results/ablations",
            minutes="29 min of training",
        ),
        Recipe(
            "diagnosis-sample",
            "chapter 10: where CNM's signal dies on the committed sample: scorer, landscapes, gradients, "
            "probes, seven interventions, 3 seeds",
            "diagnose",
            "--data {repo}/data_samples/charades-sta-sim --epochs 8 --lr 1e-3 --warmup-updates 100 "
            "--seeds 0 1 2 --out {out} --work {out}/runs",
            groups=(),
            features=None,
            word_vectors=False,
            committed="book/results/diagnosis/sample",
            minutes="90 min (measured while other runs shared the cores)",
        ),
        Recipe(
            "diagnosis-timelines",
            "chapter 10: the diagnosis of CNM on timeline features of the real annotations, 3 seeds",
            "diagnose",
            "{real} --kept-words 400 --epochs 2 --lr 1e-3 --seeds 0 1 2 --interventions cnm --out {out} "
            "--work {out}/runs",
            features=BOOK_FEATURES,
            committed="book/results/diagnosis/timelines",
            minutes="25 min (measured while other runs shared the cores)",
        ),
        Recipe(
            "diagnosis-template",
            "chapter 10: CNM on the real timelines with every sentence a fixed template of its action class, "
            "3 seeds",
            "diagnose",
            "{real} --kept-words 400 --epochs 2 --lr 1e-3 --seeds 0 1 2 --ladder template_fixed --out {out} "
            "--work {out}/runs",
            features=BOOK_FEATURES,
            committed="book/results/diagnosis/template",
            minutes="39 min (measured while other runs shared the cores)",
        ),
        Recipe(
            "diagnosis-other-video",
            "chapter 10: CNM on the real timelines with every sentence a real one of the same action class "
            "from another video, 3 seeds",
            "diagnose",
            "{real} --kept-words 400 --epochs 2 --lr 1e-3 --seeds 0 1 2 --ladder real_other_video "
            "--out {out} --work {out}/runs",
            features=BOOK_FEATURES,
            committed="book/results/diagnosis/other_video",
            minutes="46 min (measured while other runs shared the cores)",
        ),
        Recipe(
            "bias-charades-sta",
            "chapter 11: the video-blind baselines of Charades-STA",
            "bias",
            "--charades {sta} --json {out}/charades_sta.json",
            features=None,
            word_vectors=False,
            committed="book/results/bias/charades_sta.json",
            minutes="under a minute",
        ),
        Recipe(
            "bias-charades-cd",
            "chapter 11: the video-blind baselines of Charades-CD",
            "bias",
            "--charades-cd {cd} --json {out}/charades_cd_baselines.json",
            groups=("charades-cd",),
            features=None,
            word_vectors=False,
            committed="book/results/timelines/charades_cd_baselines.json",
            minutes="under a minute",
        ),
    )
}


def folders(root: Path) -> dict[str, Path]:
    """Where each group of the registry lives under the data root: its own folder (``charades-sta/``, as
    ``download get`` leaves it), or the root itself when the files were fetched straight into it
    (``download get --dest``)."""
    from cnm_minimal.data.download import RESOURCES

    found = {}
    for group in dict.fromkeys(r.group for r in RESOURCES.values()):
        members = [r for r in RESOURCES.values() if r.group == group]
        flat = (
            any((Path(root) / r.filename).is_file() for r in members) and not members[0].dest(root).is_dir()
        )
        found[group] = Path(root) if flat else members[0].dest(root)
    return found


def fetch(groups, root: Path, log=print) -> None:
    """The registry's files of ``groups`` in ``root`` (each checked by its SHA-256; only missing ones are
    fetched)."""
    from cnm_minimal.data.download import RESOURCES, download, file_problem, members

    where = folders(root)
    for resource in (r for r in RESOURCES.values() if r.group in groups):
        folder = where[resource.group]
        if file_problem(folder / resource.filename, resource.sha256, resource.size) is not None:
            log(f"fetching {resource.name} ({resource.size / 1e6:.1f} MB) from {resource.url}")
        download(resource, folder)
        members(resource, folder, repair=True)


def features_folder(root: Path, knobs: TimelineKnobs, seed: int = 0) -> Path:
    """Where the timeline features of ``knobs`` live in the data root: named by the width and a hash of the
    knobs."""
    digest = hashlib.sha256(json.dumps(asdict(knobs) | {"seed": seed}, sort_keys=True).encode()).hexdigest()[
        :8
    ]
    return Path(root) / "charades-timelines" / f"d{knobs.dim}-{digest}"


def timeline_features(root: Path, knobs: TimelineKnobs, seed: int = 0, log=print) -> Path:
    """The features file of ``knobs`` for every Charades video, built unless the same knobs were built
    before."""
    from cnm_minimal.data.timelines import make_real

    folder = features_folder(root, knobs, seed)
    manifest, features = folder / "manifest.json", folder / "features.hdf5"
    if features.is_file() and manifest.is_file():
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
        if recorded.get("knobs") == asdict(knobs) and recorded.get("seed") == seed:
            return features
    start = time.perf_counter()
    made = make_real(folders(root)["charades-sta"], folder, knobs, seed)
    log(
        f"timeline features ({made['timelines']['videos']} videos, {knobs.dim}-d) -> "
        f"{describe(features, root)} in "
        f"{time.perf_counter() - start:.0f} s"
    )
    return features


def resolve_word_vectors(root: Path, given: str | None, log=print) -> Path:
    """``given``, else ``$CNM_WORD_VECTORS``, else GloVe 6B in ``root`` (fetched if missing)."""
    path = Path(given) if given else word_vectors_path(root)
    if path.is_file():
        return path
    if given or path != Path(root) / GLOVE_FILE:
        raise ValueError(f"{path}: word-vector file not found (give --word-vectors FILE: GloVe text or .npz)")
    log("fetching GloVe 6B (822 MB, once) for the vocabulary's word vectors")
    fetch(("glove-6b",), root, log)
    return path


def arguments(
    recipe: Recipe, root: Path, out: Path, word_vectors: Path | None, features: Path | None
) -> list[str]:
    """The recipe's command line with its folders filled in."""
    where = folders(root)
    values = {
        "sta": where["charades-sta"],
        "cd": where["charades-cd"],
        "out": out,
        "repo": repository_root() or ".",
        "sim": Path(root) / recipe.simulated,
        "features": Path(features).resolve() if features else "",  # --data {sta} would prefix a relative one
        "word_vectors": word_vectors or "",
    }
    return [argument.format(**{k: str(v) for k, v in values.items()}) for argument in recipe.typed()]


class CommandFailed(RuntimeError):
    """The recipe's command stopped with an error (it printed the error itself)."""

    def __init__(self, command: str, code: int):
        super().__init__(
            f"python -m cnm_minimal {command} stopped with exit code {code} (its error is above)"
        )
        self.code = code


def run(command: str, argv: list[str], log=print) -> None:
    """``python -m cnm_minimal COMMAND ARGV`` in its own process (the command line the run records as its
    provenance), its output passed to ``log`` line by line."""
    package_parent = str(Path(__file__).resolve().parents[1])  # the package, installed or not
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))
    }
    with subprocess.Popen(
        [sys.executable, "-m", "cnm_minimal", command, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        env=env,
    ) as process:
        for line in process.stdout:
            log(line.rstrip("\n"))
    if process.returncode:
        raise CommandFailed(command, process.returncode)


def reproduce(
    recipe: Recipe, root: Path, out: Path, word_vectors: str | None = None, log=print, fresh: bool = False
) -> dict:
    """Fetch, build, run; returns the wall time of each step (seconds). A run already in ``out`` continues
    where it stopped (a finished one is only read), unless ``fresh``: then it is replaced."""
    if word_vectors and not Path(word_vectors).is_file():  # bad input fails before any download
        raise ValueError(f"{word_vectors}: word-vector file not found (--word-vectors: GloVe text or .npz)")
    steps, start = {}, time.perf_counter()
    fetch(recipe.groups, root, log)
    steps["fetch_s"] = time.perf_counter() - start
    vectors = resolve_word_vectors(root, word_vectors, log) if recipe.word_vectors else None
    start = time.perf_counter()
    features = timeline_features(root, recipe.features, log=log) if recipe.features else None
    steps["features_s"] = time.perf_counter() - start
    if recipe.simulate and not (Path(root) / recipe.simulated / "manifest.json").is_file():
        run("simulate", [a.format(sim=Path(root) / recipe.simulated) for a in recipe.simulate.split()], log)
    argv = arguments(recipe, root, out, vectors, features)
    if recipe.command == "train" and fresh and out.exists():
        argv.append("--overwrite")
    elif recipe.command == "train" and (out / "last.pt").is_file():
        argv.append("--resume")  # an interrupted run continues where it stopped
    if recipe.command == "bias":
        out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    run(recipe.command, argv, log)
    steps["run_s"] = time.perf_counter() - start
    return steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cnm_minimal reproduce", description=__doc__.splitlines()[0]
    )
    parser.add_argument("name", help="a recipe, or 'list'")
    parser.add_argument(
        "--data", type=Path, default=None, help="the data root (default: $CNM_DATA, else data/)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="the run folder (default: runs/reproduce/NAME)"
    )
    parser.add_argument("--word-vectors", default=None, help="GloVe text or .npz with the vocabulary's words")
    parser.add_argument(
        "--record",
        type=Path,
        default=None,
        help="one run (chapter9, full-scale): also write its numbers-only record here (results.json "
        "with the data root shown as $CNM_DATA, centres.json: no sentence, no path of this machine)",
    )
    args = parser.parse_args(argv)
    if args.name == "list":
        for recipe in RECIPES.values():
            print(
                f"{recipe.name:18s} {recipe.what}\n{'':18s} -> {recipe.committed}; {recipe.minutes} on 2 "
                "cores; "
                f"needs {', '.join(recipe.groups)}{' and word vectors' if recipe.word_vectors else ''}"
            )
        return 0
    if args.name not in RECIPES:
        raise ValueError(f"unknown result {args.name!r}; choose one of: list, {', '.join(RECIPES)}")
    recipe, root = RECIPES[args.name], args.data or data_root()
    if args.record and recipe.command != "train":
        raise ValueError(
            f"--record writes the record of one run; {recipe.name} runs {recipe.command} (its records "
            f"are the json files in --out)"
        )
    out = args.out or Path("runs") / "reproduce" / recipe.name
    from cnm_minimal.data.download import DownloadError

    epochs_before = epochs_done(out)
    try:
        steps = reproduce(recipe, root, out, args.word_vectors)
    except DownloadError as error:
        raise ValueError(
            f"{error} (the files can also be fetched by hand: python -m cnm_minimal download list)"
        ) from None
    except CommandFailed as failed:  # the command printed its one-line error already
        return failed.code
    if recipe.command == "train":
        results = record_steps(out / "results.json", steps, epochs_before)
        print(format_run_against_baselines(run_baselines(results)))
        if args.record:
            write_record(out, args.record, root, args.word_vectors, recipe.name)
            print(f"numbers-only record -> {args.record}")
    print("wall time: " + ", ".join(f"{k.removesuffix('_s')} {v:.0f} s" for k, v in steps.items()))
    return 0


def record_steps(path: Path, steps: dict, epochs_before: int = 0) -> dict:
    """Add the wall time of each step (fetch, features, run, total) to a run's ``results.json``; a call that
    trained nothing (the run was already complete) keeps the times of the call that did."""
    from cnm_minimal.atomic import write_json

    results = json.loads(path.read_text(encoding="utf-8"))
    if results["epochs_run"] > epochs_before or "reproduce" not in results:
        results["reproduce"] = {k: round(v, 1) for k, v in steps.items()} | {
            "total_s": round(sum(steps.values()), 1)
        }
        write_json(path, results)
    return results


def epochs_done(out: Path) -> int:
    """How many epochs the run in ``out`` has finished (0 for none)."""
    path = out / "results.json"
    return json.loads(path.read_text(encoding="utf-8"))["epochs_run"] if path.is_file() else 0


def path_labels(root: Path, out: Path, word_vectors: str | None = None) -> dict[str, str]:
    """The folders of this machine a record may spell, and the name each is shown as: the data root
    ``$CNM_DATA``, the word-vector file ``$CNM_WORD_VECTORS``, the run folder ``OUT``, the repository
    ``$PWD``."""
    word_vectors = word_vectors or os.environ.get(WORD_VECTORS_ENV)
    labels = {str(Path(word_vectors).resolve()): "$CNM_WORD_VECTORS", word_vectors: "$CNM_WORD_VECTORS"}
    labels = labels if word_vectors else {}
    return labels | {
        str(Path(root).resolve()): "$CNM_DATA",
        str(root): "$CNM_DATA",
        str(Path(out).resolve()): "OUT",
        str(out): "OUT",
        str(repository_root() or Path.cwd()): "$PWD",
    }


def portable(value, labels: dict[str, str]):
    """``value`` (a record: strings, lists, dicts) with every path under a folder of ``labels`` shown by its
    label; a folder matches only as a whole path (``data`` in ``data/x``, never in ``--data``)."""
    if isinstance(value, dict):
        return {k: portable(v, labels) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v, labels) for v in value]
    if not isinstance(value, str):
        return value
    for place, label in sorted(labels.items(), key=lambda item: -len(item[0])):
        value = re.sub(rf"(?<![\w$./-]){re.escape(place)}(?=/|\s|$)", lambda _, label=label: label, value)
    return value


def portable_results(results: dict, labels: dict[str, str], recipe: str) -> dict:
    """A run's ``results.json`` as the book commits it: numbers and portable paths, the command run as
    ``python -m cnm_minimal``, the recipe that reruns it, the words without a vector counted, not listed."""
    results = json.loads(json.dumps(results))
    command = results["provenance"]["command"].split(" ")
    results["provenance"]["command"] = " ".join(["python", *portable(command[1:], labels)]).replace(
        "python $PWD/cnm_minimal/__main__.py", "python -m cnm_minimal"
    )
    results["provenance"]["reproduce"] = f"python -m cnm_minimal reproduce {recipe}"
    without = results["data"].get("words_without_vector", [])
    results["data"]["words_without_vector"] = without if isinstance(without, int) else len(without)
    return portable(results, labels)


def write_record(
    out: Path, record: Path, root: Path, word_vectors: str | None = None, name: str = "chapter9"
) -> None:
    """The run in ``out`` as the book commits it (:func:`portable_results`), and ``centres.json`` (a 2-D
    histogram of predicted against true centres); the predictions themselves hold the real sentences and stay
    in ``out``."""
    from cnm_minimal.atomic import write_json
    from cnm_minimal.evaluate import centre_histogram, read_predictions

    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    write_json(record / "results.json", portable_results(results, path_labels(root, out, word_vectors), name))
    write_json(record / "centres.json", centre_histogram(read_predictions(out / "predictions_test.jsonl")))
    write_json(
        record / "baselines.json",
        run_baselines(json.loads((out / "results.json").read_text(encoding="utf-8"))),
    )


def run_baselines(results: dict) -> dict:
    """The run of ``results`` (a ``results.json``) beside the video-blind baselines of its own splits."""
    from cnm_minimal.bias import run_against_baselines
    from cnm_minimal.data.files import DatasetFiles, carve_validation

    config = results["config"]
    files = DatasetFiles.detect(config["data"], config["feature_file"], config["word_vectors"])
    train, test = files.queries("train")[0], files.queries("test")[0]
    if "val" not in files.annotations:
        train = carve_validation(train, config["val_fraction"], config["seed"])[0]
    return run_against_baselines(results, train, test)


if __name__ == "__main__":
    raise SystemExit(main())
