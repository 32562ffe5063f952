"""The book's notebooks: committed executed, tagged for nbval, showing the package's real code."""

import functools
import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

from cnm_minimal.book.notebook import SourceListing, show_source

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))  # the chapters and the appendix
# The paper's modules and the loop that trains them: every public function and class is shown (with
# show_source) somewhere in the book. The plumbing is named with its file where the prose needs it, and the
# appendix shows the parts a reader may want to read.
CORE_MODULES = [
    "cnm_minimal.metrics",
    "cnm_minimal.gaussian_mask",
    "cnm_minimal.negatives",
    "cnm_minimal.dropout",
    "cnm_minimal.attention",
    "cnm_minimal.reconstruction",
    "cnm_minimal.losses",
    "cnm_minimal.dual_decoder",
    "cnm_minimal.model",
    "cnm_minimal.train",
    "cnm_minimal.gaussian_proposals",
    "cnm_minimal.proposal_mining",
    "cnm_minimal.proposal_losses",
    "cnm_minimal.proposal_selection",
    "cnm_minimal.cpl",
]
MAX_LISTING_LINES = 60
MAX_LISTING_SHARE = 0.40  # of a numbered chapter's characters (the plumbing appendix is exempt)
TAGS = {"nbval-check-output", "nbval-ignore-output"}


@functools.cache
def load(path):
    """A notebook, parsed once per test session (do not modify the result)."""
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
    views = [
        o
        for c in code_cells(nb)
        for o in c["outputs"]
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    if views:
        state = nb["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        for view in views:
            assert view["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] in state


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_machine_paths_in_notebooks(path):
    text = path.read_text(encoding="utf-8")
    for pattern in (str(ROOT), str(ROOT.parent) + "/", "/root/", "/home/", "/tmp/"):
        assert pattern not in text, f"{path.name} contains the machine path {pattern!r}"


LISTING = re.compile(r"^# (cnm_minimal/\S+\.py), lines (\d+)-(\d+): (\S+)$", re.M)


@functools.cache
def listings() -> tuple:
    """``(notebook, file, first, last, name)`` of every listing printed by show_source in the book."""
    found = []
    for path in NOTEBOOKS:
        for cell in code_cells(load(path)):
            for output in cell["outputs"]:
                text = "".join(output.get("data", {}).get("text/plain", ""))
                found += [(path.name, f, int(a), int(b), n) for f, a, b, n in LISTING.findall(text)]
    return tuple(found)


def is_shown(file: str, name: str, obj) -> bool:
    """Shown whole, or, for a class, each method written in it shown on its own (long classes are cut up)."""
    shown = {(f, n) for _, f, _, _, n in listings()}
    if (file, name) in shown:
        return True
    if not inspect.isclass(obj):
        return False
    written = inspect.getsourcefile(obj)
    functions = {m: getattr(v, "__func__", v) for m, v in vars(obj).items()}  # unwrap class/static methods
    methods = [
        m
        for m, f in functions.items()
        if inspect.isfunction(f)
        and f.__code__.co_filename == written
        and (not m.startswith("_") or m == "__init__")
    ]  # not the dataclass-made ones
    return bool(methods) and all((file, f"{name}.{m}") in shown for m in methods)


@pytest.mark.parametrize("module_name", CORE_MODULES)
def test_every_public_function_is_shown_in_the_book(module_name):
    """Private helpers (``_name``) are exempt."""
    module = importlib.import_module(module_name)
    file = module_name.replace(".", "/") + ".py"
    public = {
        name: obj
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module_name
    }
    missing = sorted(name for name, obj in public.items() if not is_shown(file, name, obj))
    assert not missing, f"{module_name}: not shown in any chapter with show_source: {missing}"


def test_no_listing_is_longer_than_a_page():
    long = [
        f"{nb}: {name} ({last - first + 1} lines)"
        for nb, _, first, last, name in listings()
        if last - first + 1 > MAX_LISTING_LINES
    ]
    assert not long, f"listings over {MAX_LISTING_LINES} lines (show the methods one by one): {long}"


def cell_texts(cell) -> list[str]:
    """The characters a reader sees of a cell: its source and the text of its outputs (one representation
    each: markdown where there is one, else plain text)."""
    texts = ["".join(cell["source"])]
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        texts.append("".join(output.get("text") or data.get("text/markdown") or data.get("text/plain") or ""))
    return texts


def listing_share(nb) -> float:
    """Characters of show_source listings over all characters of the chapter's cells and outputs."""
    texts = [text for cell in nb["cells"] for text in cell_texts(cell)]
    return sum(len(t) for t in texts if LISTING.search(t)) / sum(len(t) for t in texts)


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name[0].isdigit()], ids=lambda p: p.name)
def test_chapters_are_prose_first(path):
    share = listing_share(load(path))
    assert share <= MAX_LISTING_SHARE, (
        f"{path.name}: {share:.0%} of its characters are listings (at most {MAX_LISTING_SHARE:.0%}): show "
        "what the prose discusses, name the rest with its file"
    )


def test_the_listing_share_counts_listings_only():
    code = "# cnm_minimal/a.py, lines 1-2: f\nx = 1"  # 38 characters
    shown = f"```python\n{code}\n```"  # what the book renders (52 characters), counted once
    listing = {"source": "show", "outputs": [{"data": {"text/plain": code, "text/markdown": shown}}]}
    prose = {"source": "p" * 58}
    assert listing_share({"cells": [listing, prose]}) == pytest.approx(52 / (4 + 52 + 58))


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


MAKING_OF = re.compile(
    r"\bsessions?\b|\bour builds?\b|book's builds|automated builds?|this book found|before this "
    r"book|executions? of this page|extracted text|\bwe (?:were|had) (?:asked|told)\b|under the tests|the "
    r"tests "
    r"exercise|compared by the tests",
    re.I,
)


def prose_of_the_book():
    """``(page, text)`` of every markdown cell of the chapters and of every markdown page."""
    for path in NOTEBOOKS:
        for cell in load(path)["cells"]:
            if cell["cell_type"] == "markdown":
                yield path.name, "".join(cell["source"])
    for path in sorted((ROOT / "book").glob("*.md")):
        yield path.name, path.read_text(encoding="utf-8")


def test_the_prose_speaks_of_cnm_and_the_reader_not_of_how_the_book_was_made():
    found = [
        f"{page}: {match.group(0)!r}"
        for page, text in prose_of_the_book()
        for match in MAKING_OF.finditer(text)
    ]
    assert not found, f"sentences about how the book was made: {found}"


def test_a_tagged_equation_is_numbered_once():
    """An amsmath block is numbered by Sphinx as well: one that carries its own ``\\tag`` must be starred, or
    the page shows two numbers beside it ("(2.1) (1)")."""
    blocks = [
        (page, block)
        for page, text in prose_of_the_book()
        for block in re.findall(r"\\begin\{(?:equation|align|gather|multline)\}.*?\\end\{\w+\}", text, re.S)
    ]
    twice = [f"{page}: {block[:60]!r}" for page, block in blocks if "\\tag" in block]
    assert not twice, f"tagged equations numbered twice (use equation* for a \\tag of its own): {twice}"
