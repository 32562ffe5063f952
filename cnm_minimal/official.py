"""The authors' configurations, parameter names and checkpoints, in this package's terms (chapters 8 and 12).

The authors' code (minghangz/cnm) reads one JSON file per experiment, with ``dataset``, ``train``, ``model``
and ``loss`` sections (the book's page "The authors' code", configuration table), and saves ``torch.save``
dicts with ``num_updates``, ``config`` (that JSON, as a dict) and ``model_parameters`` (the state_dict, whose
key names :func:`official_name_to_ours` maps onto ours). This module maps their configuration onto a
:class:`~cnm_minimal.config.TrainConfig` and converts a checkpoint of theirs into one of ours (``python -m
cnm_minimal import-official``), refusing anything whose keys or shapes do not match with a message that lists
every difference.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from cnm_minimal import registry
from cnm_minimal.baselines import best_constant_window
from cnm_minimal.checkpoints import model_payload, save_checkpoint
from cnm_minimal.config import TrainConfig
from cnm_minimal.data.files import DatasetFiles, embeddings_for
from cnm_minimal.data.text import Vocabulary
from cnm_minimal.model import CNM, CNMConfig

_RENAMES = [
    (r"^mask_vec$", "mask_token"),
    (r"^start_vec$", "start_token"),
    (r"^frame_fc\.", "frame_proj."),
    (r"^word_fc\.", "word_proj."),
    (r"^fc_rec\.", "word_head."),
    (r"^fc_mask_gen\.", "mask_head.fc."),
    (r"^trans\.decoder1\.decoder_layers\.", "video_decoder.layers."),
    (r"^trans\.decoder2\.decoder_layers\.", "query_decoder.layers."),
    (r"\.self_attn_layer_norm\.", ".self_attn_norm."),
    (r"\.encoder_attn_layer_norm\.", ".cross_attn_norm."),
    (r"\.encoder_attn\.", ".cross_attn."),
    (r"\.fc1\.", ".ffn_in."),
    (r"\.fc2\.", ".ffn_out."),
    (r"\.final_layer_norm\.", ".ffn_norm."),
]


def official_name_to_ours(name: str) -> str:
    """Map one of the authors' state_dict keys (e.g. ``trans.decoder1.decoder_layers.0.fc1.weight``) to
    ours."""
    for pattern, replacement in _RENAMES:
        name = re.sub(pattern, replacement, name)
    return name


def from_official_state_dict(model: CNM, official: dict[str, torch.Tensor]) -> None:
    """Load the authors' parameters into ``model``; refuses any missing, unexpected or mis-shaped key,
    listing them all."""
    ours = model.state_dict()
    renamed = {official_name_to_ours(k): (k, torch.as_tensor(v)) for k, v in official.items()}
    missing = sorted(set(ours) - set(renamed))
    unexpected = sorted(k for n, (k, _) in renamed.items() if n not in ours)
    shapes = sorted(
        f"{k}: theirs {tuple(v.shape)}, ours {tuple(ours[n].shape)}"
        for n, (k, v) in renamed.items()
        if n in ours and tuple(v.shape) != tuple(ours[n].shape)
    )
    if missing or unexpected or shapes:
        raise ValueError(
            "the official state_dict does not fit this model:\n"
            + "".join(f"  missing {k}\n" for k in missing)
            + "".join(f"  unexpected {k}\n" for k in unexpected)
            + "".join(f"  shape {s}\n" for s in shapes)
        )
    model.load_state_dict({n: v for n, (_, v) in renamed.items()})


def train_config_from_official(config: dict, **overrides) -> TrainConfig:
    """A :class:`TrainConfig` with the values of one of the authors' JSON configs (``overrides`` win): CNM's,
    or CPL's (``model.name`` "CPL": one optimiser, K proposals, its loss weights; ``--mode joint``)."""
    try:
        data, train, model = config["dataset"], config["train"], config["model"]["config"]
        transformer, loss = model["DualTransformer"], config.get("loss", {})
        architecture = registry.of_official(config["model"].get("name", "CNM"))
        optimiser = (
            train["optimizer"] if "optimizer" in train else train["reconstructor"]
        )  # one optimiser, or two
        values = dict(
            num_clips=data["max_num_frames"],
            hidden=model["hidden_size"],
            heads=transformer["num_heads"],
            video_layers=transformer["num_decoder_layers1"],
            query_layers=transformer["num_decoder_layers2"],
            dropout=model["dropout"],
            kept_words=data["vocab_size"],
            max_words=data["max_num_words"],
            epochs=train["max_num_epochs"],
            batch_size=train["batch_size"],
            lr=optimiser["lr"],
            warmup_updates=optimiser["warmup_updates"],
            warmup_init_lr=optimiser["warmup_init_lr"],
        )
        values |= {"architecture": architecture.name} | OFFICIAL_VALUES[architecture.official_name](
            model, loss
        )
        if data.get("feature_path"):
            values["feature_file"] = Path(data["feature_path"]).name
    except (KeyError, TypeError) as missing:
        raise ValueError(
            f"not one of the authors' configs: the key {missing} is missing "
            "(expected sections dataset, train, model.config.DualTransformer)"
        ) from None
    return TrainConfig.build(**(values | overrides))


def cnm_values(model: dict, loss: dict) -> dict:
    """The CNM fields of a CNM config's ``model.config`` and ``loss`` sections (the margins are fixed at 0.1,
    0.15)."""
    if loss and (loss.get("beta_1", 0.1), loss.get("beta_2", 0.15)) != (0.1, 0.15):
        raise ValueError(
            f"margins beta_1={loss.get('beta_1')}, beta_2={loss.get('beta_2')}: this package fixes 0.1 and "
            "0.15"
        )
    return dict(
        alpha=float(model["alpha"]),
        max_width=float(model["max_width"]),
        use_hard_negative=model.get("use_negative", True),
        use_easy_negative=model.get("use_negative", True),
    )


HONOURED_KEYS = {
    "dataset.dataset",
    "dataset.feature_path",
    "dataset.vocab_size",
    "dataset.max_num_words",
    "dataset.max_num_frames",
    "train.batch_size",
    "train.max_num_epochs",
    "model.name",
    "model.config.hidden_size",
    "model.config.alpha",
    "model.config.max_width",
    "model.config.dropout",
    "model.config.use_negative",
    "model.config.num_props",
    "model.config.sigma",
    "model.config.gamma",
    "model.config.DualTransformer.num_heads",
    "model.config.DualTransformer.num_decoder_layers1",
    "model.config.DualTransformer.num_decoder_layers2",
    "loss.beta_1",
    "loss.beta_2",
    "loss.margin_1",
    "loss.margin_2",
    "loss.lambda",
    "loss.alpha_1",
    "loss.alpha_2",
    *(
        f"train.{opt}.{k}"
        for opt in ("reconstructor", "generator", "optimizer")
        for k in ("lr", "warmup_updates", "warmup_init_lr")
    ),
    "cnm_minimal.notes",
    "cnm_minimal.data",
}
"""The keys of an authors' config that :func:`train_config_from_official` reads (or, ``cnm_minimal.*``,
ours)."""

MUST_EQUAL = {
    "dataset.word_dim": (None, "read from the word-vector file"),
    "dataset.frame_dim": (None, "read from the feature file"),
    "model.config.frames_input_size": (None, "read from the feature file"),
    "model.config.words_input_size": (None, "read from the word-vector file"),
    "model.config.DualTransformer.d_model": (
        "model.config.hidden_size",
        "one hidden size for the whole model",
    ),
    "model.config.DualTransformer.dropout": ("model.config.dropout", "one dropout for the whole model"),
    **{
        f"train.{opt}.weight_decay": (0, "this package trains without weight decay")
        for opt in ("reconstructor", "generator", "optimizer")
    },
}
"""Keys the trainer does not set from the file: what they must equal (a key, a value, or anything:
``None``)."""


def check_config_keys(config: dict, path) -> None:
    """Refuse a key of an authors' config that the trainer would not honour: an unknown one (a typo), or one
    whose value this package does not follow (weight decay, a second dropout), naming the file and the key."""

    def leaves(node: dict, prefix: str = ""):
        for key, value in node.items():
            yield from (
                leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else [(prefix + key, value)]
            )

    values = dict(leaves(config))
    generator, reconstructor = (
        config.get("train", {}).get("generator", {}),
        config.get("train", {}).get("reconstructor", {}),
    )
    for key, value in values.items():
        if key.startswith("cnm_minimal.train.") or key in HONOURED_KEYS:
            continue
        if key not in MUST_EQUAL:
            raise ValueError(
                f"{path}: the key {key} is not one this trainer reads (a typo?); remove it or use one of "
                "the keys of configs/charades_i3d.json"
            )
        target, reason = MUST_EQUAL[key]
        expected = values.get(target) if isinstance(target, str) else target
        if target is not None and value != expected:
            raise ValueError(
                f"{path}: {key} = {value!r} is not honoured ({reason}: {expected!r}); remove the key or "
                "set it to that value"
            )
    for key in ("lr", "warmup_updates", "warmup_init_lr"):
        if generator and reconstructor and generator.get(key) != reconstructor.get(key):
            raise ValueError(
                f"{path}: train.generator.{key} = {generator.get(key)!r} differs from "
                f"train.reconstructor.{key} = {reconstructor.get(key)!r}; this package gives both "
                "optimisers one schedule"
            )


def cpl_values(model: dict, loss: dict) -> dict:
    """The CPL fields of a CPL config's ``model.config`` and ``loss`` sections (the margins are CNM's beta1,
    beta2)."""
    if not model.get("use_negative", True):
        raise ValueError("use_negative false: this package's CPL always mines its negatives")
    return dict(
        mode="joint",
        num_proposals=model["num_props"],
        sigma=float(model["sigma"]),
        gamma=float(model["gamma"]),
        beta1=float(loss["margin_1"]),
        beta2=float(loss["margin_2"]),
        div_lambda=float(loss["lambda"]),
        alpha1=float(loss["alpha_1"]),
        alpha2=float(loss["alpha_2"]),
    )


OFFICIAL_VALUES = {"CNM": cnm_values, "CPL": cpl_values}
"""How each model's own fields are read from an authors' config, by the authors' ``model.name``."""


def model_config_from_official(config: dict) -> CNMConfig:
    """The :class:`CNMConfig` of one of the authors' JSON configs (``vocab_size`` kept words -> V = kept +
    1)."""
    data = config["dataset"]
    return replace(
        train_config_from_official(config).model,
        frame_dim=data["frame_dim"],
        word_dim=data["word_dim"],
        vocab_size=data["vocab_size"] + 1,
    )


def load_official_checkpoint(path) -> tuple[CNM, TrainConfig, int]:
    """Load one of the authors' checkpoints (``weights_only=True``): our model with their weights, the run's
    configuration and their update count."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a damaged or foreign file
        raise ValueError(
            f"{path}: not a readable torch checkpoint ({type(error).__name__}); the file is damaged, "
            "cut short or not the authors' model-best.pt"
        ) from None
    if not isinstance(checkpoint, dict) or not {"config", "model_parameters"} <= set(checkpoint):
        found = sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ValueError(
            f"{path}: not an official CNM checkpoint (expected the keys num_updates, config, "
            f"model_parameters; found {found})"
        )
    architecture = registry.of_official(checkpoint["config"].get("model", {}).get("name", "CNM"))
    model = architecture.model(model_config_from_official(checkpoint["config"]))
    try:
        from_official_state_dict(model, checkpoint["model_parameters"])
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    return model, train_config_from_official(checkpoint["config"]), int(checkpoint.get("num_updates", 0))


def import_official(source, destination, files: DatasetFiles | None = None) -> dict:
    """Convert the authors' checkpoint ``source`` into ours at ``destination`` (written atomically); returns
    it.

    Ours is self-describing like the trainer's ``best.pt`` (:mod:`cnm_minimal.checkpoints`). Their file holds
    no vocabulary: with ``files`` (the data set it was trained on) the vocabulary, word vectors and constant
    window are rebuilt from its training split, as their code builds them, so that ``evaluate`` needs nothing
    else."""
    model, config, updates = load_official_checkpoint(source)
    vocabulary, embeddings, window = (
        Vocabulary(()),
        np.zeros((1, model.config.word_dim), np.float32),
        [0.0, 1.0],
    )
    if files is not None:
        train, _ = files.queries("train")
        vocabulary = Vocabulary.from_sentences([q.sentence for q in train], config.kept_words)
        embeddings = embeddings_for(files, vocabulary)
        window = best_constant_window(np.array([q.moment for q in train]))
    converted = model_payload(model, vocabulary, embeddings, window) | {
        "train_config": asdict(config),
        "epoch": None,
        "data_fingerprint": files.fingerprint() if files else None,
        "imported_from": {"file": Path(source).name, "num_updates": updates},
    }
    save_checkpoint(Path(destination), converted)
    return converted


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cnm_minimal import-official",
        description="Convert one of the authors' checkpoints (model-best.pt) into ours.",
    )
    parser.add_argument(
        "source", type=Path, help="the authors' checkpoint, e.g. checkpoints/charades/model-best.pt"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="where to write ours, e.g. runs/official/best.pt"
    )
    parser.add_argument(
        "--data",
        help="the data set it was trained on (its vocabulary is rebuilt from it), e.g. data/charades-sta",
    )
    parser.add_argument(
        "--feature-file", default="", help="real data: the HDF5 file's name in the data folder"
    )
    parser.add_argument("--word-vectors", default="", help="real data: GloVe text or .npz")
    args = parser.parse_args(argv)
    try:
        files = DatasetFiles.detect(args.data, args.feature_file, args.word_vectors) if args.data else None
        converted = import_official(args.source, args.out, files)
    except (ValueError, OSError) as error:
        parser.exit(2, f"error: {error}\n")
    n = sum(v.numel() for v in converted["model"].values())
    print(
        f"wrote {args.out}: {n:,} parameters, {converted['imported_from']['num_updates']} updates in their "
        "run" + ("" if args.data else "; no vocabulary (give --data to make it evaluable)")
    )
    return 0
