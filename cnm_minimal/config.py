"""The configuration of a training run: one :class:`TrainConfig`, holding the model's :class:`CNMConfig` (chapter 9).

Each value is defined once. The model's sizes, constants and ablation switches are the fields of
:class:`~cnm_minimal.model.CNMConfig` (whose defaults are the authors' Charades-STA values); a run holds one as
``TrainConfig.model``, with the book's smaller defaults (:data:`BOOK_MODEL`). The three model fields that
come from the data (``frame_dim``, ``word_dim``, ``vocab_size``) are filled in when the model is built.

On the command line every field is one flag, ``--hidden 256`` for a model field as for a run field
(``--batch-size 32``): :meth:`TrainConfig.build` routes each flat value to its place. Values are checked
when a config is made (types, ranges, choices), so a typo stops the run before any work, with one line
that names the option.
"""

from __future__ import annotations

import argparse
import typing
from dataclasses import asdict, dataclass, fields, replace
from typing import Literal

from cnm_minimal.model import CNMConfig

BOOK_MODEL = CNMConfig(hidden=128, video_layers=2, query_layers=2)
"""The model the book trains on a laptop: d = 128 and 2 + 2 layers (the authors': 256 and 3 + 3)."""
FROM_DATA = ("frame_dim", "word_dim", "vocab_size")
"""Model fields taken from the data (feature width, word-vector width, kept words + 1), never set by hand."""


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the option."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on; any field can be overridden on the command line (``--field value``)."""

    data: str = "data_samples/charades-sta-sim"   # a folder: the simulator's layout, or the authors' json splits
    feature_file: str = ""           # real data: the HDF5 file's name in ``data`` (e.g. i3d_features.hdf5)
    feature_layout: Literal["flat", "c3d"] = "flat"   # "c3d": ActivityNet's file[vid]["c3d_features"]
    word_vectors: str = ""           # real data: GloVe text or .npz (e.g. data/glove/glove.6B.300d.txt)
    out: str = "runs/sample"
    num_clips: int = 64              # clips per video after resampling (the authors': 200)
    kept_words: int = 1111           # vocabulary: the most frequent training words kept (V = kept + 1 classes)
    model: CNMConfig = BOOK_MODEL
    # optimisation (chapter 9, Eq. 9.1-9.3)
    epochs: int = 30
    batch_size: int = 32
    lr: float = 4e-4
    warmup_updates: int = 400
    warmup_init_lr: float = 1e-7
    clip_norm: float = 10.0
    mode: Literal["alternating", "joint"] = "alternating"
    # selection and bookkeeping
    select_on: Literal["val", "test"] = "val"
    val_fraction: float = 0.1        # carved from train, by video, when the data set has no val split
    seed: int = 0
    device: str = "auto"
    amp: Literal[False, True, "auto"] = False   # bfloat16 autocast; "auto": on CUDA and on CPUs with bf16 units
    num_workers: int = 0
    cache_features: bool = True
    progress: bool = False           # a progress bar per epoch (one log line per epoch is always printed)
    save_checkpoints: bool = True

    def __post_init__(self):
        validate(self)

    @classmethod
    def build(cls, **values) -> "TrainConfig":
        """A config from flat values: model fields (``hidden=64``) go into ``model``, the rest stay."""
        model_names = {f.name for f in fields(CNMConfig)} - set(FROM_DATA)
        run_names = {f.name for f in fields(cls)} - {"model"}
        unknown = sorted(set(values) - model_names - run_names - {"model"})
        if unknown:
            raise ConfigError(f"unknown option(s) {', '.join('--' + _flag(n) for n in unknown)} "
                              "(python -m cnm_minimal train --help lists them)")
        model = values.pop("model", BOOK_MODEL)
        model = model if isinstance(model, CNMConfig) else CNMConfig(**model)
        model = replace(model, **{k: values.pop(k) for k in list(values) if k in model_names})
        return cls(**values, model=model)

    def flat(self) -> dict:
        """The config as one flat dict (the inverse of :meth:`build`)."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        return values | {k: v for k, v in asdict(self.model).items() if k not in FROM_DATA}


def validate(config: TrainConfig) -> None:
    """Refuse a config that cannot run, with one line naming the option: types, ranges, choices."""
    for f in fields(config):
        if f.name != "model":
            _check(f.name, getattr(config, f.name), _HINTS[f.name])
    for f in fields(CNMConfig):
        _check(f.name, getattr(config.model, f.name), _MODEL_HINTS[f.name])
    positive = ["num_clips", "kept_words", "epochs", "batch_size", "warmup_updates"]
    for name in positive:
        if getattr(config, name) < 1:
            raise ConfigError(f"--{_flag(name)} must be at least 1, got {getattr(config, name)}")
    if config.num_clips < 4:
        raise ConfigError(f"--num-clips must be at least 4 (the proposal slots are N // 4), got {config.num_clips}")
    for name in ("lr", "warmup_init_lr", "clip_norm"):
        if not getattr(config, name) > 0:
            raise ConfigError(f"--{_flag(name)} must be positive, got {getattr(config, name)}")
    if not 0 < config.val_fraction < 1:
        raise ConfigError(f"--val-fraction must be between 0 and 1, got {config.val_fraction}")
    if not 0 <= config.model.dropout < 1:
        raise ConfigError(f"--dropout must be in [0, 1), got {config.model.dropout}")
    if config.model.hidden % config.model.heads:
        raise ConfigError(f"--hidden {config.model.hidden} is not divisible by --heads {config.model.heads}")


def _flag(name: str) -> str:
    return name.replace("_", "-")


_HINTS = typing.get_type_hints(TrainConfig)
_MODEL_HINTS = typing.get_type_hints(CNMConfig)


def _check(name: str, value, hint) -> None:
    """Refuse a value of the wrong type (``"0.1"`` for a float, ``64.0`` for an int, ``"ture"`` for a bool)."""
    if typing.get_origin(hint) is Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(f"--{_flag(name)} {value!r}: choose one of {', '.join(map(str, typing.get_args(hint)))}")
        return
    ok = {bool: isinstance(value, bool), int: isinstance(value, int) and not isinstance(value, bool),
          float: isinstance(value, (int, float)) and not isinstance(value, bool), str: isinstance(value, str)}[hint]
    if not ok:
        raise ConfigError(f"--{_flag(name)} {value!r}: expected {hint.__name__}, got {type(value).__name__}")


def _parse_bool(text: str) -> bool:
    words = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}
    if text.lower() not in words:
        raise argparse.ArgumentTypeError(f"{text!r} is not a boolean: use true or false")
    return words[text.lower()]


def add_config_arguments(parser: argparse.ArgumentParser, defaults: TrainConfig | None = None) -> None:
    """``--field value`` for every run field and every model field (defaults from ``defaults``)."""
    defaults = (defaults or TrainConfig()).flat()
    hints = _HINTS | _MODEL_HINTS
    for name, value in defaults.items():
        hint = hints[name]
        choices = typing.get_args(hint) if typing.get_origin(hint) is Literal else ()
        if True in choices:                       # amp: a boolean or "auto"
            options = {"type": lambda text: text if text == "auto" else _parse_bool(text)}
        elif choices:
            options = {"choices": list(choices)}
        else:
            options = {"type": {bool: _parse_bool}.get(hint, hint)}
        parser.add_argument(f"--{_flag(name)}", dest=name, default=value, help=f"default: {value}", **options)


def from_arguments(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` of parsed arguments (those of :func:`add_config_arguments`; others ignored)."""
    names = set(TrainConfig().flat())
    return TrainConfig.build(**{k: v for k, v in vars(args).items() if k in names})
