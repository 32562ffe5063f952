"""The book's notebooks: committed executed, tagged for nbval, showing the package's real code."""

import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

from cnm_minimal.notebook import SourceListing, show_source

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("[0-9]*.ipynb"))
# Modules whose every function and class must be shown (with show_source) somewhere in the book.
CORE_MODULES = ["cnm_minimal.metrics", "cnm_minimal.baselines", "cnm_minimal.data.annotations",
                "cnm_minimal.data.features", "cnm_minimal.data.text", "cnm_minimal.data.dataset",
                "cnm_minimal.data.files", "cnm_minimal.data.simulate", "cnm_minimal.gaussian_mask",
                "cnm_minimal.negatives", "cnm_minimal.attention", "cnm_minimal.reconstruction", "cnm_minimal.losses",
                "cnm_minimal.model", "cnm_minimal.train", "cnm_minimal.evaluate",
                "cnm_minimal.ablations", "cnm_minimal.bias",
                "cnm_minimal.official"]
TAGS = {"nbval-check-output", "nbval-ignore-output"}


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_there_are_notebooks_and_the_toc_lists_exactly_them():
    assert NOTEBOOKS, "book/ holds no chapter notebooks"
    toc = (ROOT / "_toc.yml").read_text()
    listed = re.findall(r"file:\s*(\S+)", toc)
    pages = sorted(f"book/{p.stem}" for p in (ROOT / "book").glob("*.md") if p.stem != "index")
    assert sorted(listed) == sorted([f"book/{p.stem}" for p in NOTEBOOKS] + pages)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_code_cell_has_exactly_one_nbval_tag(path):
    for i, cell in enumerate(code_cells(load(path))):
        tags = TAGS & set(cell["metadata"].get("tags", []))
        assert len(tags) == 1, f"{path.name} code cell {i} needs exactly one of {sorted(TAGS)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_executed_without_errors(path):
    nb = load(path)
    counts = [c["execution_count"] for c in code_cells(nb)]
    assert all(counts), f"{path.name} has unexecuted cells: run `make notebooks`"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name} was not executed top to bottom in one run"
    for cell in code_cells(nb):
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"{path.name} has an error output"
            assert output.get("name") != "stderr", f"{path.name} writes to stderr: {output.get('text')}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_widgets_are_saved_with_their_state(path):
    nb = load(path)
    views = [o for c in code_cells(nb) for o in c["outputs"]
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    if views:
        state = nb["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        for view in views:
            assert view["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] in state


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_machine_paths_in_notebooks(path):
    text = path.read_text(encoding="utf-8")
    for pattern in (str(ROOT), str(ROOT.parent) + "/", "/root/", "/home/", "/tmp/"):
        assert pattern not in text, f"{path.name} contains the machine path {pattern!r}"


def shown_objects():
    shown = set()
    for path in NOTEBOOKS:
        for cell in code_cells(load(path)):
            for output in cell["outputs"]:
                text = "".join(output.get("data", {}).get("text/plain", ""))
                shown.update(re.findall(r"^# (cnm_minimal/\S+\.py), lines \d+-\d+: (\S+)$", text, re.M))
    return shown


@pytest.mark.parametrize("module_name", CORE_MODULES)
def test_every_core_function_is_shown_in_the_book(module_name):
    module = importlib.import_module(module_name)
    file = module_name.replace(".", "/") + ".py"
    public = {name for name, obj in vars(module).items()
              if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module_name}
    missing = {name for name in public if (file, name) not in shown_objects()}
    assert not missing, f"{module_name}: not shown in any chapter with show_source: {sorted(missing)}"


def test_source_listing_is_the_package_code_with_a_relative_header():
    from cnm_minimal import metrics

    listing = show_source(metrics.temporal_iou)
    header, body = listing.code.split("\n", 1)
    lines, first = inspect.getsourcelines(metrics.temporal_iou)
    assert header == f"# cnm_minimal/metrics.py, lines {first}-{first + len(lines) - 1}: temporal_iou"
    assert body == "".join(lines).rstrip("\n")
    assert listing._repr_markdown_().startswith("```python\n# cnm_minimal/metrics.py")


def test_source_listing_refuses_code_outside_the_package():
    with pytest.raises(ValueError, match="not part of the cnm_minimal package"):
        SourceListing(json.dumps)
    with pytest.raises(ValueError):
        SourceListing()
