"""No number typed by hand into the book's prose.

A number that comes from a run, a file or another chapter is glued into the markdown from the cell that
computes it (``{glue:text}`key```). What the scan accepts without glue: numbers inside math, code, glue and
cross-references; equation, section, figure, table, exercise and chapter numbers; years and identifiers that
contain digits (R@1, SHA-256, I3D, arXiv ids); the tables that ``tools/book_tables.py`` generates (checked in
``test_book_tables.py``); and the allow-lists below, each with the reason a number may stand in the prose: the
paper's constants and published results, facts of the pinned public files (checked against the files when the
data root has them), and a few counts that belong to the sentence rather than to any result.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The paper's and the authors' code's constants and published results; they may stand on any page.
PAPER = {
    # The thresholds of R@1, the margins, dropout, label smoothing and the width clamp.
    "0.1": "IoU threshold; margin beta_1; dropout; label smoothing; the width's clamp",
    "0.3": "IoU threshold",
    "0.5": "IoU threshold",
    "0.7": "IoU threshold",
    "0.15": "margin beta_2",
    "0.45": "the width's cap on Charades-STA",
    "45": "the width's cap, in per cent",
    "5.5": "alpha on Charades-STA",
    "10": "gradient clipping norm",
    "128": "batch size",
    "256": "hidden size (and SHA-256)",
    "64": "size of one head",
    "4": "attention heads",
    "3": "decoder layers",
    "200": "clips",
    "50": "proposal slots; epochs on Charades-STA",
    "1024": "I3D feature size",
    "512": "CLIP ViT-B/32 feature size",
    "500": "C3D feature size",
    "1111": "kept words on Charades-STA",
    "1112": "output classes on Charades-STA",
    "8000": "kept words on ActivityNet",
    "8001": "output classes on ActivityNet",
    "400": "warm-up updates",
    "20": "words per sentence; epochs on ActivityNet (CLIP)",
    "30": "epochs on ActivityNet (C3D); CPL's epochs",
    "32": "CPL's batch size",
    "514": "numbers of the Gaussian head",
    "5,371,058": "numbers in the authors' checkpoint",
    "5,370,544": "the checkpoint's numbers outside the head",
    "118": "tensors in the authors' checkpoint",
    "5": "alpha on ActivityNet; R@5",
    "1": "R@1; masking weight of a function word; max width on ActivityNet",
    "2": "masking weight of a content word",
    "0": "the padding id",
    "4,150": "updates of 50 epochs at batch 128",
    # Published results (CNM, AAAI 2022, Table 1-3 and the released checkpoints; CPL and PPS as cited).
    "60.39": "CNM, R@0.3",
    "35.43": "CNM, R@0.5",
    "15.45": "CNM, R@0.7",
    "60.04": "checkpoint, R@0.3",
    "35.15": "checkpoint, R@0.5",
    "14.95": "checkpoint, R@0.7",
    "38.11": "checkpoint, mIoU",
    "35.4": "CNM, R@0.5",
    "78.13": "ActivityNet R@0.1",
    "55.68": "ActivityNet R@0.3",
    "33.33": "ActivityNet R@0.5",
    "37.14": "mIoU",
    "79.74": "C3D checkpoint",
    "54.61": "C3D checkpoint",
    "30.26": "C3D checkpoint",
    "36.59": "C3D checkpoint",
    "20.12": "random, R@0.3",
    "8.61": "random, R@0.5",
    "3.39": "random, R@0.7",
    "20.1": "random, R@0.3",
    "38.23": "random, ActivityNet",
    "18.64": "random, ActivityNet",
    "7.63": "random, ActivityNet",
    "79.35": "ablation",
    "47.71": "ablation",
    "26.98": "ablation",
    "34.73": "ablation",
    "63.9": "ablation",
    "43.80": "ablation",
    "24.50": "ablation",
    "28.90": "ablation",
    "31": "ablation (read from the figure)",
    "25": "ablation (read from the figure)",
    "66.40": "CPL",
    "49.24": "CPL",
    "22.39": "CPL",
    "69.06": "PPS",
    "51.49": "PPS",
    "26.16": "PPS",
    "13.8": "CPL's published margin over CNM at R@0.5",
}

# The book's own configuration constants, inputs of its runs rather than results.
BOOK = {
    "16": "proposal slots of the book's 64 clips",
    "100": "warm-up updates of the simulated sample's runs",
    "8": "CPL's K proposals",
}

# Facts of the pinned public files (the annotations, the Charades CSVs, the class table), per page: constant
# as long as the files' SHA-256 is. ``test_file_facts_hold_on_the_files`` recomputes them where the files are
# present.
FILE_FACTS = {
    "02_data.ipynb": {
        "12,408": "rows of charades_sta_train.txt",
        "3,720": "rows of charades_sta_test.txt",
        "10,602": "queries of cnm_train.json",
        "3,158": "queries of cnm_test.json",
        "1,805": "training rows whose end is after the video",
        "8252": "a line of charades_sta_test.txt with start > end",
        "8440": "a line of charades_sta_test.txt with start > end",
        "9623": "a line of charades_sta_test.txt with start > end",
        "9624": "a line of charades_sta_test.txt with start > end",
        "157": "action classes of Charades",
        "9,848": "videos of the Charades CSVs",
        "66,493": "actions kept from the CSVs",
        "19,623": "actions whose end is clipped to the video",
        "7": "actions dropped",
        "6.75": "actions per video",
        "1,145": "distinct training words",
        "99,901": "training tokens",
        "19": "tokens a simpler tokenizer counts differently",
        "12": "the static page offers the first videos of the explorer",
        "40": "videos of the sample",
        "16": "the example timeline (defined in the cell)",
        "15": "the example timeline",
        "6": "the example timeline",
    },
    "11_honest_evaluation.ipynb": {
        "10,602": "queries of cnm_train.json",
        "3,158": "queries of cnm_test.json",
        "6.75": "actions per video of the Charades CSVs",
        "0.53": "median moment centre of Charades-CD's test-ood",
        "0.37": "median moment centre of Charades-CD's training split",
    },
    "09_training.ipynb": {"9,848": "videos of the Charades CSVs", "157": "action classes of Charades"},
    "12_cpl.ipynb": {"157": "action classes of Charades"},
    "13_full_scale.ipynb": {"10,602": "queries of cnm_train.json", "3,158": "queries of cnm_test.json"},
    "authors_code.md": {
        "10,602": "queries of cnm_train.json",
        "3,158": "queries of cnm_test.json",
        "17,031": "queries of ActivityNet Captions' test_data.json",
        "17,505": "queries of ActivityNet Captions' val_data.json",
        "7.25": "tokens of a training sentence on average",
        "13": "tokens of the longest",
    },
}

# Per page: numbers that belong to the sentence (an example's input set in the cell beside it, an option).
PAGE = {
    "01_the_task.ipynb": {
        "30": "the opening example's 30-second video",
        "40": "the illustration's 40 clips",
        "1000": "the seeds of an exercise's comparison",
    },
    "04_negative_mining.ipynb": {
        "10.3": "the example video's moments",
        "20.2": "the example video's moments",
        "21.3": "the example video's moments",
        "30.7": "the example video's moments",
    },
    "05_attention.ipynb": {"6": "query positions of the figure, set in its cell"},
    "09_training.ipynb": {"1,000": "the random baseline's seeds, set in the cell below"},
    "10_ablations.ipynb": {
        "1,000": "--num-videos of the command that makes the benchmark",
        "95": "the confidence level of the exercise's interval",
        "0.2": "the lower cap on the width, an intervention's input",
    },
    "11_honest_evaluation.ipynb": {"8": "an exercise's option", "16": "an exercise's option"},
    "12_cpl.ipynb": {
        "0.62": "the figure's proposal, set in its cell",
        "0.2": "the figure's proposal",
        "0.35": "the width that section 12.3's rule for lambda targets (an input)",
    },
    "authors_code.md": {
        "8": "the authors' seeds",
        "9": "the authors' seeds",
        "24": "clips of the golden test's batch",
        "7": "a sentence length of the golden test's batch",
        "6": "proposal slots of the golden test's batch",
    },
    "references.md": {"15": "journal volume", "2": "workshop number"},
}

# Identifiers and names that contain digits.
NAMES = re.compile(
    r"R@\d|dR@\d|SHA-256|\bI3D\b|\bC3D\b|\b3D\b|\b2-D\b|ViT-B/32|arXiv:\S+|#\d|top-\d|\b\d+-d\b|"
    r"\b\d+-bit\b|\bfloat\d+|\bbfloat\d+|\bGloVe 6B|\b840B\b|\bH\d+\b"
)
REFERENCE = re.compile(
    r"(?:Eqs?\.|Equations?|Figures?|Fig\.|Tables?|[Ss]ections?|[Cc]hapters?|ch\.|§|[Ee]xercises?|"
    r"[Ss]teps?|[Ll]istings?)\s*\d+(?:\.\d+)*(?:\s*(?:,|and|or|to|-|–)\s*\d+(?:\.\d+)*)*"
)
STRIP = [
    (
        re.compile(r"<!-- generated by tools/book_tables.py.*?<!-- end of generated -->", re.S),
        "generated table",
    ),
    (re.compile(r"\$\$.*?\$\$", re.S), "display math"),
    (re.compile(r"\\begin\{(equation|align|aligned)\*?\}.*?\\end\{\1\*?\}", re.S), "math environment"),
    (re.compile(r"\$[^$\n]+\$"), "inline math"),
    (re.compile(r"\{[a-z:]+\}`[^`]*`"), "role (glue, eq, numref, ref, doc)"),
    (re.compile(r"`[^`\n]*`"), "inline code"),
    (re.compile(r"<!--.*?-->|<[^>]+>", re.S), "HTML"),
    (re.compile(r"\[[^\]]*\]\([^)]*\)"), "link (its text is a title or a chapter number)"),
    (re.compile(r"https?://\S+"), "address"),
    (re.compile(r"^\([^)\n]*\)=\s*$", re.M), "label"),
    (re.compile(r"^#+ [^\n]*$", re.M), "heading"),
    (re.compile(r"^\s*\d+\.\s", re.M), "list item number"),
    (re.compile(r"^\|\s*\d+\s", re.M), "chapter number in a table's first column"),
    (NAMES, "identifier"),
    (REFERENCE, "cross-reference"),
    (re.compile(r"\b(?:19|20)\d\d\b"), "year"),
]
NUMBER = re.compile(r"(?<![\w.@/])\d[\d,]*(?:\.\d+)?")


def pages():
    """``(page, cell index, markdown)`` of every markdown cell of the chapters and of every markdown page."""
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            if cell["cell_type"] == "markdown":
                yield path.name, i, "".join(cell["source"])
    for path in sorted((ROOT / "book").glob("*.md")):
        yield path.name, 0, path.read_text(encoding="utf-8")


FENCE = re.compile(r"\s*(`{3,}|~{3,}|:{3,})\s*(\S*)")
CODE_DIRECTIVES = ("", "{code-block}", "{code-cell}", "{code}", "{math}")


def without_code(markdown: str) -> str:
    """``markdown`` without its code blocks and directive lines; a directive's body (an admonition) is
    prose."""
    kept, open_fences = [], []  # open_fences: (fence, is_code) from the outside in
    for line in markdown.splitlines():
        fence = FENCE.match(line)
        if fence and open_fences and fence.group(1) == open_fences[-1][0] and not fence.group(2):
            open_fences.pop()
        elif fence and not any(code for _, code in open_fences):
            info = fence.group(2)
            open_fences.append((fence.group(1), not info.startswith("{") or info in CODE_DIRECTIVES))
        elif not any(code for _, code in open_fences) and not re.match(r"\s*:[\w-]+:", line):
            kept.append(line)
    return "\n".join(kept)


def typed_numbers(markdown: str) -> list[tuple[str, str]]:
    """The numbers of ``markdown`` left after stripping what may hold numbers, each with its line."""
    text = without_code(markdown)
    for pattern, _ in STRIP:
        text = pattern.sub(" ", text)
    return [
        (m.group(0).rstrip(","), line.strip()) for line in text.splitlines() for m in NUMBER.finditer(line)
    ]


def allowed(page: str, number: str) -> bool:
    return any(number in table for table in (PAPER, BOOK, FILE_FACTS.get(page, {}), PAGE.get(page, {})))


def test_no_number_is_typed_into_the_prose():
    found = [
        f"{page} cell {i}: {number} in {line[:100]!r}"
        for page, i, text in pages()
        for number, line in typed_numbers(text)
        if not allowed(page, number)
    ]
    assert not found, (
        f"{len(found)} numbers typed into the prose; glue them from the cell that computes them "
        "({glue:text}`key`) or, for a constant of the paper or a file, add them to an allow-list with "
        "the reason:\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    "markdown, expected",
    [
        ("CNM scores 35.3 mIoU on 1,324 queries.", ["35.3", "1,324"]),
        ("In Eq. 9.2 and Figure 13.2, chapter 11 (section 12.6), R@0.5 and SHA-256, in 2022.", []),
        ("{glue:text}`ch9_real_all` and $\\beta_1 = 0.1$ and `--epochs 4`", []),
        ("```bash\npython -m cnm_minimal train --epochs 4\n```\nthen 17 epochs", ["17"]),
        ("```{admonition} Data\n:class: warning\n1,000 videos\n```\n```python\nx = 3\n```", ["1,000"]),
        ("1. **By hand.** compute 0.25", ["0.25"]),
    ],
)
def test_the_scan_finds_typed_numbers_and_only_those(markdown, expected):
    assert [n for n, _ in typed_numbers(markdown)] == expected


def test_every_allow_list_entry_is_used_and_has_a_reason():
    seen = {(page, number) for page, _, text in pages() for number, _ in typed_numbers(text)}
    numbers = {number for _, number in seen}
    unused = [n for n in {**PAPER, **BOOK} if n not in numbers]
    unused += [
        f"{page}: {n}"
        for pages_tables in (FILE_FACTS, PAGE)
        for page, table in pages_tables.items()
        for n in table
        if (page, n) not in seen
    ]
    assert not unused, f"allow-list entries no page uses (remove them): {unused}"
    tables = (PAPER, BOOK, *FILE_FACTS.values(), *PAGE.values())
    assert all(reason.strip() for table in tables for reason in table.values())


def test_file_facts_hold_on_the_files(real_data):
    """The facts of the public files that the prose cites, recomputed from the files (skipped without
    them)."""
    import csv

    from cnm_minimal.data.timelines import read_classes

    def rows(name):
        return sum(1 for line in (real_data / name).read_text().splitlines() if line.strip())

    def queries(name):
        return len(json.loads((real_data / name).read_text()))

    def videos():
        ids = set()
        for split in ("train", "test"):
            with (real_data / f"Charades_v1_{split}.csv").open(newline="") as handle:
                ids |= {row["id"] for row in csv.DictReader(handle)}
        return len(ids)

    measured = {
        "12,408": rows("charades_sta_train.txt"),
        "3,720": rows("charades_sta_test.txt"),
        "10,602": queries("cnm_train.json"),
        "3,158": queries("cnm_test.json"),
        "157": len(read_classes()),
        "9,848": videos(),
    }
    for number, value in measured.items():
        assert int(number.replace(",", "")) == value, f"the prose says {number}; the files give {value}"
    cited = {n for table in FILE_FACTS.values() for n in table}
    assert set(measured) <= cited


@pytest.mark.parametrize("path", sorted((ROOT / "book").glob("*.ipynb")), ids=lambda p: p.name)
def test_every_glued_key_the_prose_cites_is_glued_by_the_page(path):
    """A ``{glue:text}`key``` whose key no cell of the page glued renders as a warning, not a number."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    cited = {
        key.split(":")[0]
        for c in cells
        if c["cell_type"] == "markdown"
        for key in re.findall(r"\{glue(?::\w+)?\}`([^`]+)`", "".join(c["source"]))
    }
    glued = {
        o["metadata"]["scrapbook"]["name"]
        for c in cells
        if c["cell_type"] == "code"
        for o in c["outputs"]
        if "scrapbook" in o.get("metadata", {})
    }
    assert not cited - glued, f"{path.name} cites keys no cell glues: {sorted(cited - glued)}"
