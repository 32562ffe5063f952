"""The configuration of a training run: one :class:`TrainConfig`, holding the model's :class:`CNMConfig`
(chapter 9).

Each value is defined once. The model's sizes, constants and ablation switches are the fields of
:class:`~cnm_minimal.model.CNMConfig` (whose defaults are the authors' Charades-STA values); a run holds one
as ``TrainConfig.model``, with the book's smaller defaults (:data:`BOOK_MODEL`). The three model fields that
come from the data (``frame_dim``, ``word_dim``, ``vocab_size``) are filled in when the model is built.

On the command line every field is one flag, ``--hidden 256`` for a model field as for a run field
(``--batch-size 32``): :meth:`TrainConfig.build` routes each flat value to its place. Values are checked
when a config is made (types, ranges, choices, by pydantic in strict mode), so a typo stops the run before
any work, with one line that names the option.
"""

from __future__ import annotations

import argparse
import math
import typing
from dataclasses import asdict, dataclass, fields, replace
from typing import Literal

from pydantic import ConfigDict, Field, ValidationError, create_model

from cnm_minimal import registry
from cnm_minimal.dual_decoder import DualDecoderConfig

BOOK_MODEL = registry.get("cnm").book_size
"""The model the book trains on a laptop: d = 128 and 2 + 2 layers (the authors': 256 and 3 + 3)."""
FROM_DATA = ("frame_dim", "word_dim", "vocab_size")
"""Model fields taken from the data (feature width, word-vector width, kept words + 1), never set by hand."""


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the option."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on; any field can be overridden on the command line (``--field value``)."""

    data: str = "data_samples/charades-sta-sim"  # the simulator's layout, or the authors' json splits
    feature_file: str = ""  # real data: the HDF5 file's name in ``data`` (e.g. i3d_features.hdf5)
    feature_layout: Literal["flat", "c3d"] = "flat"  # "c3d": ActivityNet's file[vid]["c3d_features"]
    word_vectors: str = ""  # real data: GloVe text or .npz (e.g. data/glove/glove.6B.300d.txt)
    cd_splits: str = ""  # a Charades-CD folder: its test splits are evaluated too (chapter 13)
    out: str = "runs/sample"
    architecture: str = "cnm"  # a name of the registry: cnm, or cpl (K proposals, chapter 12)
    num_clips: int = 64  # clips per video after resampling (the authors': 200)
    kept_words: int = 1111  # vocabulary: the most frequent training words kept (V = kept + 1 classes)
    model: DualDecoderConfig = BOOK_MODEL  # the architecture's config class
    # optimisation (chapter 9, Eq. 9.1-9.3)
    epochs: int = 30
    batch_size: int = 32
    lr: float = 4e-4
    warmup_updates: int = 400
    warmup_init_lr: float = 1e-7
    clip_norm: float = 10.0
    mode: Literal["alternating", "joint"] = "alternating"
    generator_updates: int = 1  # step B's updates per batch (the authors': 1; an intervention of chapter 10)
    # selection and bookkeeping
    select_on: Literal["val", "test"] = "val"
    val_fraction: float = 0.1  # carved from train, by video, when the data set has no val split
    reverse_fraction: float = 0.0  # this share of the training videos is played backwards (chapter 10)
    seed: int = 0
    device: str = "auto"
    amp: Literal[False, True, "auto"] = False  # bfloat16 autocast; "auto": on CUDA and bf16 CPUs
    num_workers: int = 0
    cache_features: bool = True
    progress: bool = False  # a progress bar per epoch (one log line per epoch is always printed)
    save_checkpoints: bool = True

    def __post_init__(self):
        validate(self)

    @classmethod
    def build(cls, **values) -> TrainConfig:
        """A config from flat values: model fields (``hidden=64``) go into ``model``, the rest stay; the
        model's config is the one of the architecture ``architecture`` names (:mod:`cnm_minimal.registry`)."""
        architecture = _architecture(values.get("architecture", cls.architecture))
        _refuse_unknown(values, {f.name for f in fields(cls)})
        values = _without_foreign_options(values, architecture)
        model = values.pop("model", architecture.book_size)
        model = asdict(model) if isinstance(model, DualDecoderConfig) else dict(model)
        own = architecture.field_names()
        model = architecture.config(**{k: v for k, v in model.items() if k in own})
        model = replace(model, **{k: values.pop(k) for k in list(values) if k in own})
        return cls(**values, model=model)

    def flat(self) -> dict:
        """The config as one flat dict (the inverse of :meth:`build`)."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        return values | {k: v for k, v in asdict(self.model).items() if k not in FROM_DATA}


def _architecture(name: str) -> registry.Architecture:
    try:
        return registry.get(name)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _refuse_unknown(values: dict, run_names: set[str]) -> None:
    unknown = sorted(set(values) - (set(registry.model_fields()) - set(FROM_DATA)) - run_names)
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join('--' + _flag(n) for n in unknown)} "
            "(python -m cnm_minimal train --help lists them)"
        )


def _model_defaults() -> dict:
    """Every registered architecture's model fields that a user sets, with their book-size defaults."""
    return {k: v for k, v in registry.model_fields().items() if k not in FROM_DATA}


def _without_foreign_options(values: dict, architecture: registry.Architecture) -> dict:
    """The values without the model fields of other architectures, which a run may carry only at their
    defaults (the command line has every architecture's flags)."""
    foreign = set(registry.model_fields()) - architecture.field_names()
    stray = [k for k in sorted(foreign) if k in values and values[k] != registry.model_fields()[k]]
    if stray:
        owners = [a for a in registry.ARCHITECTURES.values() if stray[0] in a.field_names()]
        raise ConfigError(
            f"--{_flag(stray[0])} is an option of {' and '.join(a.official_name or a.name for a in owners)}"
            f": add --architecture {owners[0].name}"
        )
    return {k: v for k, v in values.items() if k not in foreign}


RANGES = {
    # the run
    "num_clips": Field(ge=4),
    "kept_words": Field(ge=1),
    "epochs": Field(ge=1),
    "batch_size": Field(ge=1),
    "lr": Field(gt=0),
    "warmup_updates": Field(ge=1),
    "warmup_init_lr": Field(gt=0),
    "clip_norm": Field(gt=0),
    "generator_updates": Field(ge=1),
    "val_fraction": Field(gt=0, lt=1),
    "reverse_fraction": Field(ge=0, le=1),
    "seed": Field(ge=0),
    "num_workers": Field(ge=0),
    # the model (chapter 8)
    "hidden": Field(ge=1),
    "heads": Field(ge=1),
    "video_layers": Field(ge=1),
    "query_layers": Field(ge=1),
    "dropout": Field(ge=0, lt=1),
    "alpha": Field(gt=0),
    "max_width": Field(gt=0, le=1),
    "beta1": Field(ge=0),
    "beta2": Field(ge=0),
    "label_smoothing": Field(ge=0, lt=1),
    "max_words": Field(ge=1),
    # CPL (--architecture cpl, chapter 12)
    "num_proposals": Field(ge=1),
    "sigma": Field(gt=0),
    "gamma": Field(ge=0),
    "div_lambda": Field(ge=0),
    "alpha1": Field(ge=0),
    "alpha2": Field(ge=0),
}
"""The allowed range of each number; the types and choices are those of the dataclass fields."""


def _schema(cls, leave_out=()):
    """A pydantic model with the fields, types and defaults of the dataclass ``cls``, strict (no ``"0.1"`` for
    a float, no ``64.0`` for an int, no ``"ture"`` for a bool, no inf or nan), with the :data:`RANGES`."""
    hints = typing.get_type_hints(cls)
    return create_model(
        f"{cls.__name__}Check",
        __config__=ConfigDict(strict=True, extra="forbid", allow_inf_nan=False),
        **{
            f.name: (hints[f.name], RANGES.get(f.name, Field()))
            for f in fields(cls)
            if f.name not in leave_out
        },
    )


_RUN_SCHEMA = _schema(TrainConfig, leave_out={"model"})
_MODEL_SCHEMAS: dict[type, object] = {}  # one per model config class, made on first use


def validate(config: TrainConfig) -> None:
    """Refuse a config that cannot run, with one line naming the option: types, ranges, choices (pydantic)."""
    run = {f.name: getattr(config, f.name) for f in fields(config) if f.name != "model"}
    try:
        _RUN_SCHEMA.model_validate(run)
        kind = type(config.model)
        if kind not in _MODEL_SCHEMAS:
            _MODEL_SCHEMAS[kind] = _schema(kind)
        _MODEL_SCHEMAS[kind].model_validate(asdict(config.model))
    except ValidationError as error:
        first = error.errors()[0]
        raise ConfigError(
            f"--{_flag(str(first['loc'][0]))} {first['input']!r}: {first['msg'].lower()}"
        ) from None
    if config.model.hidden % config.model.heads:
        raise ConfigError(f"--hidden {config.model.hidden} is not divisible by --heads {config.model.heads}")
    if config.generator_updates > 1 and config.mode != "alternating":
        raise ConfigError(
            f"--generator-updates {config.generator_updates} counts step B's updates of --mode alternating; "
            f"--mode {config.mode} has no step B (leave it at 1)"
        )
    validate_architecture(config)


def validate_architecture(config: TrainConfig) -> None:
    """The run's model config is its architecture's, trained by a scheme the architecture has."""
    architecture = _architecture(config.architecture)
    if type(config.model) is not architecture.config:
        raise ConfigError(
            f"--architecture {config.architecture} with a {type(config.model).__name__}: build the config "
            "with TrainConfig.build(architecture=...)"
        )
    if config.mode not in architecture.modes:
        raise ConfigError(
            f"--mode {config.mode} with --architecture {architecture.name}: it has no such training scheme; "
            f"use --mode {' or '.join(architecture.modes)}"
        )


def learning_rate_factor(config: TrainConfig):
    """``n -> lr(n) / lr``: linear warm-up from ``warmup_init_lr``, then inverse square root (Eq. 9.3)."""

    def factor(n: int) -> float:
        if n < config.warmup_updates:
            return (
                config.warmup_init_lr + n * (config.lr - config.warmup_init_lr) / config.warmup_updates
            ) / config.lr
        return math.sqrt(config.warmup_updates / n)

    return factor


def _flag(name: str) -> str:
    return name.replace("_", "-")


_HINTS = typing.get_type_hints(TrainConfig)


def _parse_bool(text: str) -> bool:
    words = {
        "true": True,
        "1": True,
        "yes": True,
        "on": True,
        "false": False,
        "0": False,
        "no": False,
        "off": False,
    }
    if text.lower() not in words:
        raise argparse.ArgumentTypeError(f"{text!r} is not a boolean: use true or false")
    return words[text.lower()]


def add_config_arguments(parser: argparse.ArgumentParser, defaults: TrainConfig | None = None) -> None:
    """``--field value`` for every run field and every model field of every registered architecture (defaults
    from ``defaults``); ``--architecture`` chooses among the registry's names."""
    defaults = _model_defaults() | (defaults or TrainConfig()).flat()
    hints = _HINTS
    for architecture in registry.ARCHITECTURES.values():
        hints = typing.get_type_hints(architecture.config) | hints
    for name, value in defaults.items():
        hint = hints[name]
        choices = typing.get_args(hint) if typing.get_origin(hint) is Literal else ()
        if name == "architecture":
            options = {"choices": list(registry.ARCHITECTURES)}
        elif True in choices:  # amp: a boolean or "auto"
            options = {"type": lambda text: text if text == "auto" else _parse_bool(text)}
        elif choices:
            options = {"choices": list(choices)}
        else:
            options = {"type": {bool: _parse_bool}.get(hint, hint)}
        parser.add_argument(f"--{_flag(name)}", dest=name, default=value, help=f"default: {value}", **options)


def from_arguments(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` of parsed arguments (those of :func:`add_config_arguments`; others
    ignored)."""
    names = set(TrainConfig().flat()) | set(_model_defaults())
    return TrainConfig.build(**{k: v for k, v in vars(args).items() if k in names})
