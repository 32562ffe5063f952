"""The model registry: a third architecture, registered in this module, trains and evaluates through the
command line exactly as CNM and CPL do, and nothing outside the registry compares a model's name."""

import ast
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from cnm_minimal import registry
from cnm_minimal.__main__ import main
from cnm_minimal.checkpoints import load_checkpoint
from cnm_minimal.config import ConfigError, TrainConfig
from cnm_minimal.model import CNM, CNMConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--num-clips",
    "16",
    "--heads",
    "2",
    "--video-layers",
    "1",
    "--query-layers",
    "1",
    "--batch-size",
    "64",
    "--warmup-updates",
    "5",
    "--lr",
    "1e-3",
    "--device",
    "cpu",
    "--epochs",
    "1",
]


@dataclass(frozen=True)
class ShiftedConfig(CNMConfig):
    shift: float = 0.0  # a constant added to every predicted centre (then clamped)


class Shifted(CNM):
    """CNM whose Gaussian sits ``shift`` later than its head says: a toy third model."""

    def generate_mask(self, clips, words, lengths):
        centre, width = super().generate_mask(clips, words, lengths)
        return (centre + self.config.shift).clamp(0, 1), width


@pytest.fixture
def shifted():
    architecture = registry.register(
        registry.Architecture(
            "shifted",
            Shifted,
            ShiftedConfig,
            ShiftedConfig(hidden=32, video_layers=1, query_layers=1),
            ("alternating", "joint"),
            summary="a test's toy",
        )
    )
    yield architecture
    registry.unregister("shifted")


def test_a_registered_model_trains_and_evaluates_through_the_command_line(shifted, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--architecture", "shifted", "--shift", "0.2", "--out", str(out), *TINY]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["architecture"] == "shifted" and results["config"]["model"]["shift"] == 0.2
    state = load_checkpoint(out / "best.pt")
    assert state["architecture"] == "shifted" and state["model_config"]["shift"] == 0.2
    capsys.readouterr()
    assert main(["evaluate", str(out / "best.pt"), "--device", "cpu"]) == 0
    assert "all queries" in capsys.readouterr().out


def test_its_options_belong_to_it(shifted, tmp_path, capsys):
    code = main(["train", "--shift", "0.2", "--out", str(tmp_path / "run"), *TINY])
    assert (
        code == 2 and "--shift is an option of shifted: add --architecture shifted" in capsys.readouterr().err
    )


def test_an_unknown_model_is_named_with_the_known_ones():
    with pytest.raises(ValueError, match="no such architecture; the package knows cnm, cpl"):
        registry.get("pps")


def test_a_checkpoint_of_an_unregistered_model_is_refused_by_name(shifted, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--architecture", "shifted", "--out", str(out), *TINY]) == 0
    registry.unregister("shifted")
    from cnm_minimal.checkpoints import CheckpointError, model_from_checkpoint

    with pytest.raises(CheckpointError, match="--architecture shifted: no such architecture"):
        model_from_checkpoint(out / "best.pt")
    registry.register(shifted)


@pytest.mark.parametrize("module", ["config", "train", "checkpoints", "official", "evaluate"])
def test_no_module_but_the_registry_compares_a_model_name(module):
    tree = ast.parse((ROOT / "cnm_minimal" / f"{module}.py").read_text())
    names = {"cnm", "cpl", "CNM", "CPL"}
    compared = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and any(
            isinstance(side, ast.Constant) and side.value in names for side in [node.left, *node.comparators]
        )
    ]
    assert not compared, f"cnm_minimal/{module}.py compares a model's name on lines {compared}"


def test_the_fields_taken_from_the_data_are_not_options():
    with pytest.raises(ConfigError, match="unknown option"):
        TrainConfig.build(frame_dim=3)
