"""Write the student version of every chapter: solutions out, everything else kept (``make student``).

Solution regions follow the convention of nbgrader and otter-grader, so a course that already runs one of
those tools can take the chapters as they are:

* ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` in a code cell: the region is replaced, at its indentation, by
  ``raise NotImplementedError("...")``; ``# HINT: ...`` lines inside the region stay, as comments and as the
  text of the error;
* a line ending in ``# SOLUTION``: replaced by the same ``raise``;
* ``BEGIN SOLUTION`` / ``END SOLUTION`` in a markdown cell: the region becomes "*Your answer here.*".

The outputs of every cell that held a solution are cleared; all other cells keep their outputs and widget
state. The output is deterministic (same input, same bytes) and self-contained: ``OUT/book/`` holds the
notebooks with the files they read (``book/images``, ``book/results``), and ``OUT/data_samples``,
``OUT/configs`` and ``OUT/tests/fixtures`` the sample data, the configurations and the golden fixture, so the
notebooks' relative paths work there as in the book.

Usage: python tools/student.py [--out _build/student] [NOTEBOOK ...]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN = re.compile(r"^(\s*)#+\s*BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*#+\s*END SOLUTION\s*$")
ONE_LINE = re.compile(r"^(\s*)\S.*#\s*SOLUTION\s*$")
HINT = re.compile(r"^\s*#\s*HINT:\s*(.*)$")
MARKDOWN_REGION = re.compile(r"^[#>* \t]*BEGIN SOLUTION.*?^[#>* \t]*END SOLUTION[^\n]*\n?", re.M | re.S)
DEFAULT_HINT = "write your solution here, then run this cell again"
FROM_THE_REPOSITORY = ("data_samples", "configs", "tests/fixtures")
"""What the chapters read from outside ``book/`` (the sample, the authors' configurations, the golden
fixture)."""


def _raise_line(indent: str, hints: list[str]) -> str:
    message = " ".join(hints) if hints else DEFAULT_HINT
    return f"{indent}raise NotImplementedError({json.dumps(message)})"


def strip_code(source: str, where: str) -> tuple[str, bool]:
    """The student version of one code cell's source, and whether it held a solution."""
    out: list[str] = []
    lines = source.split("\n")
    changed, k = False, 0
    while k < len(lines):
        line = lines[k]
        begin = BEGIN.match(line)
        if begin:
            indent, hints = begin.group(1), []
            k += 1
            while k < len(lines) and not END.match(lines[k]):
                if BEGIN.match(lines[k]):
                    raise ValueError(f"{where}: nested BEGIN SOLUTION at line {k + 1}")
                hint = HINT.match(lines[k])
                if hint:
                    hints.append(hint.group(1).strip())
                k += 1
            if k == len(lines):
                raise ValueError(f"{where}: BEGIN SOLUTION without END SOLUTION")
            out += [f"{indent}# HINT: {h}" for h in hints]
            out += [f"{indent}# YOUR CODE HERE", _raise_line(indent, hints)]
            changed = True
        elif END.match(line):
            raise ValueError(f"{where}: END SOLUTION at line {k + 1} without BEGIN SOLUTION")
        elif ONE_LINE.match(line):
            out.append(_raise_line(ONE_LINE.match(line).group(1), []))
            changed = True
        else:
            out.append(line)
        k += 1
    return "\n".join(out), changed


def student_notebook(notebook: dict, chapter: str) -> dict:
    """The student version of a notebook (as parsed JSON); the input is not modified."""
    notebook = json.loads(json.dumps(notebook))
    for n, cell in enumerate(notebook["cells"]):
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code":
            new, changed = strip_code(source, f"{chapter}, cell {n}")
            if changed:
                cell["outputs"], cell["execution_count"] = [], None
        elif cell["cell_type"] == "markdown":
            new = MARKDOWN_REGION.sub("*Your answer here.*\n", source)
        else:
            new = source
        cell["source"] = new.splitlines(keepends=True)
    notebook["metadata"]["cnm_minimal"] = {"chapter": chapter, "version": "student"}
    return notebook


def write_student_versions(out: Path, notebooks: list[Path]) -> list[Path]:
    """Write ``out/book/<chapter>.ipynb`` for every notebook plus the files they read; returns the
    notebooks."""
    if out.exists():
        shutil.rmtree(out)
    (out / "book").mkdir(parents=True)
    for folder in ("images", "results"):
        if (ROOT / "book" / folder).is_dir():
            shutil.copytree(ROOT / "book" / folder, out / "book" / folder)
    for folder in FROM_THE_REPOSITORY:
        shutil.copytree(ROOT / folder, out / folder)
    written = []
    for path in notebooks:
        student = student_notebook(json.loads(path.read_text(encoding="utf-8")), path.stem)
        target = out / "book" / path.name
        target.write_text(
            json.dumps(student, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "student")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter in book/")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
    try:
        written = write_student_versions(args.out, notebooks)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path.relative_to(args.out.parent) if args.out.parent in path.parents else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
