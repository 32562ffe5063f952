"""The authors' configurations and checkpoints, in this package's terms (chapter 12).

The authors' code (minghangz/cnm) reads one JSON file per experiment, with ``dataset``, ``train``, ``model``
and ``loss`` sections (spec section 6), and saves ``torch.save`` dicts with ``num_updates``, ``config`` (that
JSON, as a dict) and ``model_parameters`` (the state_dict, key names in spec section 8). This module maps
their configuration onto :class:`~cnm_minimal.train.TrainConfig` and converts a checkpoint of theirs into one
of ours (``python -m cnm_minimal import-official``), refusing anything whose keys or shapes do not match with a
message that lists every difference.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, fields
from pathlib import Path

import torch

from cnm_minimal.model import CNM, CNMConfig, from_official_state_dict
from cnm_minimal.train import TrainConfig, atomic_save, model_config


def train_config_from_official(config: dict, **overrides) -> TrainConfig:
    """A :class:`TrainConfig` with the values of one of the authors' JSON configs (``overrides`` win)."""
    try:
        data, train, model = config["dataset"], config["train"], config["model"]["config"]
        transformer, loss = model["DualTransformer"], config.get("loss", {})
        values = dict(
            num_clips=data["max_num_frames"], hidden=model["hidden_size"], heads=transformer["num_heads"],
            video_layers=transformer["num_decoder_layers1"], query_layers=transformer["num_decoder_layers2"],
            dropout=model["dropout"], alpha=float(model["alpha"]), max_width=float(model["max_width"]),
            vocab_size=data["vocab_size"], max_words=data["max_num_words"], epochs=train["max_num_epochs"],
            batch_size=train["batch_size"], lr=train["reconstructor"]["lr"],
            warmup_updates=train["reconstructor"]["warmup_updates"],
            warmup_init_lr=train["reconstructor"]["warmup_init_lr"],
            use_hard_negative=model.get("use_negative", True), use_easy_negative=model.get("use_negative", True),
        )
        if data.get("feature_path"):
            values["feature_file"] = Path(data["feature_path"]).name
    except KeyError as missing:
        raise ValueError(f"not one of the authors' configs: the key {missing} is missing "
                         "(expected sections dataset, train, model.config.DualTransformer)") from None
    if loss and (loss.get("beta_1", 0.1), loss.get("beta_2", 0.15)) != (0.1, 0.15):
        raise ValueError(f"margins beta_1={loss.get('beta_1')}, beta_2={loss.get('beta_2')}: this package fixes 0.1 and 0.15")
    return TrainConfig(**(values | overrides))


def model_config_from_official(config: dict) -> CNMConfig:
    """The :class:`CNMConfig` of one of the authors' JSON configs (``vocab_size`` kept words -> V = kept + 1)."""
    data = config["dataset"]
    return model_config(train_config_from_official(config), data["frame_dim"], data["word_dim"], data["vocab_size"] + 1)


def load_official_checkpoint(path) -> tuple[CNM, TrainConfig, int]:
    """Load one of the authors' checkpoints (``weights_only=True``): our model with their weights, the run's
    configuration and their update count."""
    path = Path(path)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or not {"config", "model_parameters"} <= set(checkpoint):
        found = sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ValueError(f"{path}: not an official CNM checkpoint (expected the keys num_updates, config, "
                         f"model_parameters; found {found})")
    model = CNM(model_config_from_official(checkpoint["config"]))
    try:
        from_official_state_dict(model, checkpoint["model_parameters"])
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    return model, train_config_from_official(checkpoint["config"]), int(checkpoint.get("num_updates", 0))


def import_official(source, destination) -> dict:
    """Convert the authors' checkpoint ``source`` into ours at ``destination`` (written atomically); returns it.

    Ours has the shape of the trainer's ``best.pt``: ``model`` (our parameter names), ``config`` (a TrainConfig
    as a dict), plus where it came from. It loads with ``torch.load(..., weights_only=True)``."""
    model, config, updates = load_official_checkpoint(source)
    converted = {"model": model.state_dict(), "config": asdict(config), "epoch": None,
                 "imported_from": {"file": Path(source).name, "num_updates": updates}}
    atomic_save(converted, Path(destination))
    return converted


def model_from_checkpoint(path) -> tuple[CNM, TrainConfig]:
    """Our model and configuration from a checkpoint of ours (``best.pt``, ``last.pt`` or an imported one)."""
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if "model" not in state or "config" not in state:
        raise ValueError(f"{path}: not a checkpoint of this package (no 'model' and 'config'); "
                         "convert the authors' checkpoints with `python -m cnm_minimal import-official`")
    known = {f.name for f in fields(TrainConfig)}
    config = TrainConfig(**{k: v for k, v in state["config"].items() if k in known})
    weights = state["model"]
    model = CNM(model_config(config, weights["frame_proj.weight"].shape[1], weights["word_proj.weight"].shape[1],
                             weights["word_head.weight"].shape[0]))
    model.load_state_dict(weights)
    return model, config


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnm_minimal import-official",
                                     description="Convert one of the authors' checkpoints (model-best.pt) into ours.")
    parser.add_argument("source", type=Path, help="the authors' checkpoint, e.g. checkpoints/charades/model-best.pt")
    parser.add_argument("--out", type=Path, required=True, help="where to write ours, e.g. runs/official/best.pt")
    args = parser.parse_args(argv)
    try:
        converted = import_official(args.source, args.out)
    except (ValueError, FileNotFoundError) as error:
        parser.exit(1, f"error: {error}\n")
    n = sum(v.numel() for v in converted["model"].values())
    print(f"wrote {args.out}: {n:,} parameters, {converted['imported_from']['num_updates']} updates in their run")
    return 0
