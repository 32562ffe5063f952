"""The model architectures the package knows, by name: what configuring, building, training, checkpointing and
importing a model of each needs (chapters 9 and 12).

``--architecture NAME`` looks its name up here, and so do the config, the trainer, the checkpoints and the
import of the authors' weights: none of them compares a model's name. CNM and its successor CPL are
registered below; another model (a Gaussian mixture, say) is one :func:`register` call with its classes, and
the command line, the trainer and ``evaluate`` take it as they take these two.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from cnm_minimal.cpl import CPL, CPLConfig
from cnm_minimal.dual_decoder import DualDecoder, DualDecoderConfig
from cnm_minimal.model import CNM, CNMConfig


@dataclass(frozen=True)
class Architecture:
    """One model family: its name on the command line and in checkpoints, and what the package needs of it."""

    name: str  # --architecture NAME; stored in every checkpoint as "architecture"
    model: type[DualDecoder]  # built from its config (training_pass, predict_batch, sample_nll, begin_epoch)
    config: type[DualDecoderConfig]  # the dataclass of the model's fields
    book_size: object  # the config a run starts from: the book's laptop size
    modes: tuple[str, ...]  # the training schemes it has: "alternating" (steps A and B), "joint"
    official_name: str | None = None  # model.name in the authors' JSON configs and checkpoints
    summary: str = ""

    def field_names(self) -> set[str]:
        return {f.name for f in fields(self.config)}


ARCHITECTURES: dict[str, Architecture] = {}


def register(architecture: Architecture) -> Architecture:
    """Add ``architecture`` (a name may be registered once; :func:`unregister` removes it, for tests)."""
    if architecture.name in ARCHITECTURES:
        raise ValueError(f"the architecture {architecture.name!r} is registered already")
    ARCHITECTURES[architecture.name] = architecture
    return architecture


def unregister(name: str) -> None:
    ARCHITECTURES.pop(name, None)


def get(name: str) -> Architecture:
    """The architecture called ``name``; an error lists the known ones."""
    if name not in ARCHITECTURES:
        raise ValueError(
            f"--architecture {name}: no such architecture; the package knows {', '.join(ARCHITECTURES)}"
        )
    return ARCHITECTURES[name]


def of_model(model: DualDecoder) -> Architecture:
    """The architecture a model instance belongs to (its exact class)."""
    found = [a for a in ARCHITECTURES.values() if type(model) is a.model]
    if not found:
        raise ValueError(f"{type(model).__name__} is not a registered architecture")
    return found[0]


def of_official(name: str) -> Architecture:
    """The architecture of an authors' config or checkpoint, by its ``model.name``."""
    found = [a for a in ARCHITECTURES.values() if a.official_name == name]
    if not found:
        known = ", ".join(a.official_name for a in ARCHITECTURES.values() if a.official_name)
        raise ValueError(f"model.name {name!r}: not one of the authors' models this package has ({known})")
    return found[0]


def model_fields() -> dict[str, object]:
    """Every model field of every architecture, with the default of the first architecture that has it."""
    defaults: dict[str, object] = {}
    for architecture in ARCHITECTURES.values():
        for f in fields(architecture.config):
            defaults.setdefault(f.name, getattr(architecture.book_size, f.name))
    return defaults


register(
    Architecture(
        "cnm",
        CNM,
        CNMConfig,
        CNMConfig(hidden=128, video_layers=2, query_layers=2),
        ("alternating", "joint"),
        official_name="CNM",
        summary="one Gaussian mask, two optimisers taking turns (chapters 3-9)",
    )
)
register(
    Architecture(
        "cpl",
        CPL,
        CPLConfig,
        CPLConfig(hidden=128, video_layers=2, query_layers=2),
        ("joint",),
        official_name="CPL",
        summary="K Gaussian proposals, one objective (chapter 12)",
    )
)
