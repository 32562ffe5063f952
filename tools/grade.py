"""Grade a chapter notebook: run it, then check the functions it defines (``make grade NB=path``).

The notebook is executed top to bottom in its own folder (errors in cells do not stop it), then, in the same
kernel, every graded exercise of its chapter (``tools/grading_checks.py``, or ``--checks FILE``) is checked
against the function the notebook defined. One line per exercise, then the total. The exit status is 0 only
when every exercise gets full marks. Nothing but pytest's own dependencies and Jupyter's kernel is needed: no
database, no server.

Usage: python tools/grade.py NOTEBOOK [--checks FILE] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
MARKER = "CNM-GRADE-RESULT "

_GRADER = '''
import importlib.util as _u, json as _j, sys as _s, traceback as _t
_spec = _u.spec_from_file_location("_cnm_checks", {checks!r})
_checks = _s.modules["_cnm_checks"] = _u.module_from_spec(_spec)
_spec.loader.exec_module(_checks)
for _e in _checks.exercises_for({chapter!r}, getattr(_checks, "EXERCISES")):
    _r = {{"number": _e.number, "name": _e.name, "points": _e.points}}
    _f = globals().get(_e.name)
    if _f is None:
        _r.update(score=0, kind="missing", message=f"the notebook does not define `{{_e.name}}`: run the exercise's "
                  "cell, and keep the function's name as the exercise gives it")
    else:
        try:
            _e.check(_f)
            _r.update(score=_e.points, kind="ok", message="")
        except NotImplementedError as _x:
            _r.update(score=0, kind="todo", message=f"not answered yet ({{_x}})")
        except AssertionError as _x:
            _r.update(score=0, kind="wrong", message=str(_x) or "the answer does not pass the check")
        except Exception as _x:
            _tb = _t.extract_tb(_x.__traceback__)
            _where = next((f"line {{s.lineno}} of your code" for s in reversed(_tb) if s.filename.startswith("<ipython")), "")
            _r.update(score=0, kind="error", message=f"your function raised {{type(_x).__name__}}: {{_x}}"
                      + (f" ({{_where}})" if _where else ""))
    print({marker!r} + _j.dumps(_r))
'''


def chapter_of(notebook: nbformat.NotebookNode, path: Path) -> str:
    return notebook.metadata.get("cnm_minimal", {}).get("chapter") or path.stem


def grade(path: Path, checks: Path, timeout: int = 900) -> tuple[list[dict], list[str]]:
    """Execute ``path`` and run its chapter's checks in the same kernel: (one result per exercise, cell errors)."""
    notebook = nbformat.read(path, as_version=4)
    chapter = chapter_of(notebook, path)
    notebook.cells.append(nbformat.v4.new_code_cell(
        _GRADER.format(checks=str(checks.resolve()), chapter=chapter, marker=MARKER)))
    client = NotebookClient(notebook, timeout=timeout, allow_errors=True, kernel_name="python3",
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],
                            resources={"metadata": {"path": str(path.resolve().parent)}})
    client.execute()
    errors = [f"cell {n}: {o.get('ename')}: {o.get('evalue')}" for n, cell in enumerate(notebook.cells[:-1])
              if cell.cell_type == "code" for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    results, grader_errors = [], []
    for output in notebook.cells[-1].get("outputs", []):
        if output.get("output_type") == "stream":
            results += [json.loads(line[len(MARKER):]) for line in output["text"].splitlines() if line.startswith(MARKER)]
        elif output.get("output_type") == "error":
            grader_errors.append(f"{output.get('ename')}: {output.get('evalue')}")
    if grader_errors:
        raise RuntimeError(f"the grader itself failed on {path}: {'; '.join(grader_errors)}")
    return results, errors


def report(path: Path, chapter: str, results: list[dict], errors: list[str]) -> str:
    lines = [f"Grading {path} (chapter {chapter})"]
    if not results:
        lines.append("  this chapter has no graded exercises; the notebook ran "
                     + ("without errors" if not errors else f"with {len(errors)} cell error(s)"))
    for r in results:
        mark = {"ok": "PASS", "todo": "TODO"}.get(r["kind"], "FAIL")
        lines.append(f"  exercise {r['number']} `{r['name']}`: {mark} {r['score']}/{r['points']}"
                     + (f"\n      {r['message']}" if r["message"] else ""))
    if errors:
        lines.append("  cells that raised an error while the notebook ran (first 5):")
        lines += [f"      {e}" for e in errors[:5]]
    total, possible = sum(r["score"] for r in results), sum(r["points"] for r in results)
    lines.append(f"Total: {total}/{possible}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--checks", type=Path, default=ROOT / "tools" / "grading_checks.py",
                        help="a file with EXERCISES and exercises_for() (default: the book's own checks)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        print(f"error: no notebook at {args.notebook} (make grade NB=path/to/notebook.ipynb)", file=sys.stderr)
        return 2
    if not args.checks.is_file():
        print(f"error: no checks file at {args.checks}", file=sys.stderr)
        return 2
    notebook = nbformat.read(args.notebook, as_version=4)
    results, errors = grade(args.notebook, args.checks, args.timeout)
    print(report(args.notebook, chapter_of(notebook, args.notebook), results, errors))
    return 0 if all(r["score"] == r["points"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
