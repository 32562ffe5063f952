"""``python -m cnm_minimal COMMAND ...``: one entry point for every command of the package.

Commands: ``train``, ``evaluate``, ``simulate``, ``download``, ``import-official``, ``bias``, ``ablations``.
``python -m cnm_minimal COMMAND --help`` explains each. ``train --config configs/charades_i3d.json`` starts from
one of the authors' configurations (``configs/`` mirrors theirs); any value can then be overridden on the
command line (``--epochs 5 --batch-size 32``). Under ``torchrun --nproc_per_node=N`` the same ``train`` runs
data-parallel on N processes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

COMMANDS = {
    "train": "train CNM (chapter 9; --config FILE for an authors' configuration)",
    "evaluate": "evaluate a checkpoint of ours on a split (paper-style, prior-hard and time-reversed metrics)",
    "simulate": "write a simulated data set in the real layout (chapter 2)",
    "download": "fetch the public annotation files and GloVe, checked by SHA-256 (chapter 2)",
    "import-official": "convert one of the authors' checkpoints into ours",
    "bias": "the temporal-bias report of an annotation set (chapter 11)",
    "ablations": "the paper's ablations and the probes, over several seeds (chapters 10 and 11)",
}


def train(argv: list[str]) -> int:
    from cnm_minimal import train as training
    from cnm_minimal.official import train_config_from_official

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", type=Path)
    known, rest = pre.parse_known_args(argv)
    defaults = None
    if known.config:
        try:
            raw = json.loads(known.config.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise SystemExit(f"error: cannot read the config {known.config}: {error}")
        defaults = train_config_from_official(raw, **raw.get("cnm_minimal", {}).get("train", {}),
                                              data=raw.get("cnm_minimal", {}).get("data", training.TrainConfig.data))
    parser = training.config_parser(defaults)
    parser.prog = "python -m cnm_minimal train"
    parser.add_argument("--config", type=Path, help="one of the authors' JSON configurations (configs/*.json)")
    args = vars(parser.parse_args(rest))             # --config was taken above; it is listed for --help only
    args.pop("config")
    return training.run_from_arguments(args)


def evaluate(argv: list[str]) -> int:
    from dataclasses import replace

    from cnm_minimal.evaluate import evaluate_predictions, save_predictions
    from cnm_minimal.official import model_from_checkpoint
    from cnm_minimal.train import Trainer

    parser = argparse.ArgumentParser(prog="python -m cnm_minimal evaluate", description=COMMANDS["evaluate"])
    parser.add_argument("checkpoint", type=Path, help="best.pt or last.pt of a run, or an imported checkpoint")
    parser.add_argument("--data", help="the data folder (default: the one the checkpoint was trained on)")
    parser.add_argument("--feature-file", help="real data: the HDF5 file's name in the data folder")
    parser.add_argument("--word-vectors", help="real data: GloVe text or .npz")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--predictions", type=Path, help="write one json line per query here")
    args = parser.parse_args(argv)
    model, config = model_from_checkpoint(args.checkpoint)
    changes = {k: v for k, v in (("data", args.data), ("feature_file", args.feature_file),
                                 ("word_vectors", args.word_vectors)) if v}
    trainer = Trainer(replace(config, **changes, device=args.device, progress=False, save_checkpoints=False))
    trainer.model.load_state_dict(model.state_dict())
    rows = {}
    rows["all queries"], predictions = trainer.evaluate(args.split)
    if args.split == "test":
        rows[f"prior-hard ({int(trainer.prior_hard.sum())} queries)"] = evaluate_predictions(predictions, trainer.prior_hard)
    rows["time-reversed"] = trainer.evaluate(args.split, reverse_time=True)[0]
    print(f"{args.checkpoint} on {trainer.config.data} ({args.split}, {len(predictions['index'])} queries)")
    for name, row in rows.items():
        print(f"  {name:28s} " + "  ".join(f"{k} {100 * v:5.1f}" for k, v in row.items()))
    if args.predictions:
        save_predictions(args.predictions, predictions, trainer.data.splits[args.split].queries)
    return 0


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
    else:
        from cnm_minimal.ablations import main as run
    return run(rest)


if __name__ == "__main__":
    raise SystemExit(main())
