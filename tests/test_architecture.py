"""Data flows one way: data -> components -> model -> training/evaluation -> book helpers. No back-edges."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cnm_minimal"
LAYERS = [
    {"atomic", "metrics", "baselines"},
    {
        "data.annotations",
        "data.features",
        "data.text",
        "data.dataset",
        "data.files",
        "data.timelines",
        "data.simulate",
        "data.download",
        "data.root",
        "data.textfile",
    },
    {
        "gaussian_mask",
        "negatives",
        "dropout",
        "attention",
        "reconstruction",
        "losses",
        "gaussian_proposals",
        "proposal_mining",
        "proposal_losses",
        "proposal_selection",
    },
    {"dual_decoder", "model", "cpl", "registry"},
    {"config", "checkpoints", "distributed", "hardware", "resume", "evaluate", "bias", "train"},
    {"ablations", "official", "study", "diagnosis", "reproduce"},
    {"book.notebook", "book.plots", "book.widgets"},
]


def layer_of(module: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if module in layer)


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cnm_minimal."):
            found.add(node.module.removeprefix("cnm_minimal."))
        elif isinstance(node, ast.Import):
            found |= {
                a.name.removeprefix("cnm_minimal.") for a in node.names if a.name.startswith("cnm_minimal.")
            }
    return found


def test_every_module_has_a_layer_and_imports_only_from_its_own_or_earlier_layers():
    modules = {
        p.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", ".")
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py" and p.name != "__main__.py"
    }
    assert modules == set().union(*LAYERS), "a module is missing from LAYERS (or LAYERS names a missing one)"
    for module in modules:
        for imported in imports_of(PACKAGE / (module.replace(".", "/") + ".py")):
            imported = imported if imported in modules else imported.rsplit(".", 1)[0]
            assert layer_of(imported) <= layer_of(module), f"{module} imports {imported}: a back-edge"


def test_the_trainer_holds_no_objective_code():
    """The losses, the samples and the masks are the model's (chapters 3-8); train.py only calls them."""
    text = (PACKAGE / "train.py").read_text()
    for name in (
        "gaussian_mask(",
        "soft_mask(",
        "mine_samples(",
        "ivc_loss(",
        "reconstruction_loss(",
        "clamp(",
        "label_smoothed_nll(",
        "beta1",
        "reconstruct(",
        "sentence_losses(",
    ):
        assert name not in text, f"train.py computes part of the objective itself: {name}"
