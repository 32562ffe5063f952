"""``python -m cnm_minimal COMMAND ...``: one entry point for every command of the package.

Commands: ``train``, ``evaluate``, ``simulate``, ``download``, ``import-official``, ``bias``, ``ablations``,
``study``, ``reproduce``. ``python -m cnm_minimal COMMAND --help`` explains each. ``train --config
configs/charades_i3d.json`` starts from one of the authors' configurations (``configs/`` mirrors theirs); any
value can then be overridden on the command line (``--epochs 5 --batch-size 32``). Under ``torchrun
--nproc_per_node=N`` the same ``train`` runs data-parallel on N processes.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path

COMMANDS = {
    "train": "train CNM (chapter 9; --config FILE for an authors' configuration; "
    "--architecture cpl --mode joint: CPL)",
    "evaluate": "evaluate a checkpoint of ours on a split (paper-style, prior-hard and time-reversed "
    "metrics)",
    "simulate": "write a simulated data set in the real layout (chapter 2)",
    "download": "fetch the public annotation files and GloVe, checked by SHA-256 (chapter 2)",
    "import-official": "convert one of the authors' checkpoints into ours",
    "bias": "the temporal-bias report of an annotation set (chapter 11)",
    "ablations": "the paper's ablations and the probes, over several seeds (chapters 10 and 11)",
    "study": "when the contrastive signal exists: ablations x temporal prior x confusers (chapter 10)",
    "diagnose": "where CNM's signal dies: the reconstructor as a scorer, landscapes, gradients, probes "
    "(chapter 10)",
    "reproduce": "rerun one of the book's committed results from public files (reproduce list names them)",
}


def train(argv: list[str]) -> int:
    from cnm_minimal import distributed
    from cnm_minimal.config import TrainConfig, add_config_arguments, from_arguments
    from cnm_minimal.official import check_config_keys, train_config_from_official
    from cnm_minimal.train import fit

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", type=Path)
    known, _ = pre.parse_known_args(argv)
    defaults = None
    if known.config:
        try:
            raw = json.loads(known.config.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"cannot read the config {known.config}: {error}") from None
        ours = raw.get("cnm_minimal", {})
        defaults = train_config_from_official(
            raw, **ours.get("train", {}), data=ours.get("data", TrainConfig.data)
        )
        check_config_keys(raw, known.config)  # the values first (one line each), then the keys
    parser = argparse.ArgumentParser(prog="python -m cnm_minimal train", description=COMMANDS["train"])
    parser.add_argument(
        "--config", type=Path, help="one of the authors' JSON configurations (configs/*.json)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in OUT from its last.pt")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the run OUT holds (never done otherwise)"
    )
    parser.add_argument(
        "--allow-config-change",
        action="store_true",
        help="with --resume: accept options that differ from the run's (recorded in results.json)",
    )
    add_config_arguments(parser, defaults)
    args = parser.parse_args(argv)
    config = from_arguments(args)
    rank, _ = distributed.setup()
    try:
        log = (
            (lambda line: print(line, flush=True)) if rank == 0 else (lambda line: None)
        )  # one process speaks
        summary = fit(
            config,
            resume=args.resume,
            log=log,
            overwrite=args.overwrite,
            allow_changes=args.allow_config_change,
        )
    except KeyboardInterrupt:
        last = Path(config.out) / "last.pt"
        print(
            "interrupted: "
            + (
                f"{last} holds the last finished epoch; run the same command with --resume to continue"
                if last.is_file()
                else "no epoch had finished, so there is nothing to resume; run the command again"
            ),
            file=sys.stderr,
        )
        return 130
    finally:
        distributed.teardown()
    if rank == 0:
        print(
            json.dumps(
                {k: summary[k] for k in ("selected_epoch", "val_at_selected", "test_at_selected", "wall_s")}
            )
        )
    return 0


def evaluate(argv: list[str]) -> int:
    import numpy as np

    from cnm_minimal.checkpoints import model_from_checkpoint
    from cnm_minimal.data.dataset import MomentDataset
    from cnm_minimal.data.features import FeatureStore
    from cnm_minimal.data.files import DatasetFiles, carve_validation
    from cnm_minimal.evaluate import save_predictions, score_split
    from cnm_minimal.hardware import pick_device

    parser = argparse.ArgumentParser(prog="python -m cnm_minimal evaluate", description=COMMANDS["evaluate"])
    parser.add_argument(
        "checkpoint", type=Path, help="best.pt or last.pt of a run, or an imported checkpoint"
    )
    parser.add_argument("--data", help="the data folder (default: the one the checkpoint was trained on)")
    parser.add_argument("--feature-file", help="real data: the HDF5 file's name in the data folder")
    parser.add_argument(
        "--split",
        default="test",
        help="train, val, test, or a further split of the data set (Charades-CD: test_iid)",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--predictions", type=Path, help="write one json line per query here")
    args = parser.parse_args(argv)
    model, vocabulary, embeddings, state = model_from_checkpoint(args.checkpoint)
    if not vocabulary.words:
        raise ValueError(f"{args.checkpoint}: no vocabulary in this checkpoint; import it again with --data")
    run = state["train_config"]
    data = args.data or run["data"]
    files = DatasetFiles.detect(
        data, args.feature_file or run["feature_file"], feature_layout=run["feature_layout"]
    )
    source = "train" if args.split == "val" and "val" not in files.annotations else args.split
    if source not in files.annotations:
        raise ValueError(
            f"--split {args.split}: {data} has the splits {', '.join(sorted(files.annotations))}"
        )
    queries, report = files.queries(source)
    if source != args.split:  # val carved from train, as the run did
        queries = carve_validation(queries, run["val_fraction"], run["seed"])[1]
    warn_if_changed(
        files.annotations[source], (state.get("data_fingerprint") or {}).get("annotations", {}).get(source)
    )
    store = FeatureStore(files.features, files.feature_layout)
    dataset = MomentDataset(
        queries, store, vocabulary, model.config.frame_dim, run["num_clips"], model.config.max_words
    )
    device = pick_device(args.device)
    rows, predictions = score_split(
        model.to(device), dataset, embeddings, device, args.batch_size, np.array(state["constant_window"])
    )
    dropped = len(report.dropped) + len(dataset.report.dropped)
    print(f"{args.checkpoint} on {data} ({args.split}, {len(dataset)} queries, {dropped} dropped)")
    names = {
        "all": "all queries",
        "prior_hard": f"prior-hard ({rows['prior_hard_count']} queries)",
        "reversed": "time-reversed",
    }
    for key, name in names.items():
        if key in rows:
            print(f"  {name:28s} " + "  ".join(f"{k} {100 * v:5.1f}" for k, v in rows[key].items()))
    if args.predictions:
        save_predictions(args.predictions, predictions, dataset.queries)
    return 0


def warn_if_changed(path: Path, trained_on: dict | None) -> None:
    """One line on stderr when an annotation file is not the one the checkpoint was trained and selected
    with."""
    from cnm_minimal.data.download import file_sha256

    if trained_on and file_sha256(path) != trained_on["sha256"]:
        print(
            f"warning: {path} differs from the {trained_on['file']} this checkpoint was trained and selected "
            "with "
            "(SHA-256); the scores below are for the file as it is now",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        print("usage: python -m cnm_minimal COMMAND [--help] ...\n\ncommands:")
        for name, text in COMMANDS.items():
            print(f"  {name:{width}s}  {text}")
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nerror: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    command, rest = argv[0], argv[1:]
    try:
        return run_command(command, rest)
    except (ValueError, OSError) as error:  # bad input: one line that names it, never a traceback
        if os.environ.get("CNM_TRACEBACK"):
            raise
        print(f"error: {describe(error)}", file=sys.stderr)
        return 2


def describe(error: Exception) -> str:
    """One line for an error: a file system error as ``FILE: what happened``, with what to do for a full
    disk."""
    if isinstance(error, OSError) and error.filename and error.strerror:
        advice = "; free some space and run the command again" if error.errno == errno.ENOSPC else ""
        return f"{error.filename}: {error.strerror}{advice}"
    return str(error)


def run_command(command: str, rest: list[str]) -> int:
    if command == "train":
        return train(rest)
    if command == "evaluate":
        return evaluate(rest)
    if command == "simulate":
        from cnm_minimal.data.simulate import main as run
    elif command == "download":
        from cnm_minimal.data.download import main as run
    elif command == "import-official":
        from cnm_minimal.official import main as run
    elif command == "bias":
        from cnm_minimal.bias import main as run
    elif command == "study":
        from cnm_minimal.study import main as run
    elif command == "diagnose":
        from cnm_minimal.diagnosis import main as run
    elif command == "reproduce":
        from cnm_minimal.reproduce import main as run
    else:
        from cnm_minimal.ablations import main as run
    return run(rest)


if __name__ == "__main__":
    raise SystemExit(main())
