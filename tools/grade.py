"""Grade a chapter notebook: run it, then check the functions it defines (``make grade NB=path``).

The notebook runs top to bottom in its own Jupyter kernel, in its own folder (errors in cells do not stop it).
Then every graded exercise of its chapter (``tools/grading_checks.py``, or ``--checks FILE``) is checked **in
this process**: the check computes its reference values here and sends only the inputs to the kernel, where
``tools/grading_support.py`` calls the student's function and sends back the encoded result (and which package
functions it called). Nothing the notebook does to its own kernel (monkey-patching the package, ``torch`` or
the checks) reaches the references. One line per exercise, then the total; the exit status is 0 only with full
marks.

``--cells exercises`` (the fast mode) runs only the cells tagged ``exercise`` instead of the whole notebook:
the checks need nothing else. It is the default (``--cells auto``) for the chapters the checks file lists in
``EXERCISE_CELLS_ONLY`` (chapter 9, whose training cell takes minutes); ``--cells all`` forces a full run.

Usage: python tools/grade.py NOTEBOOK [--checks FILE] [--cells auto|all|exercises] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

ROOT = Path(__file__).resolve().parents[1]
TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import grading_support  # noqa: E402

_LOAD_SUPPORT = """
import importlib.util as _cnm_u, sys as _cnm_s
_cnm_spec = _cnm_u.spec_from_file_location("_cnm_grading_support", {path!r})
_cnm_grading = _cnm_s.modules["_cnm_grading_support"] = _cnm_u.module_from_spec(_cnm_spec)
_cnm_spec.loader.exec_module(_cnm_grading)
del _cnm_u, _cnm_s, _cnm_spec
"""


class GraderError(RuntimeError):
    """The grader's own code failed in the kernel (not the student's function)."""


def chapter_of(notebook: nbformat.NotebookNode, path: Path) -> str:
    return notebook.metadata.get("cnm_minimal", {}).get("chapter") or path.stem


def load_checks(path: Path):
    """The checks module (``EXERCISES``, ``exercises_for``, optionally ``EXERCISE_CELLS_ONLY``), in this
    process."""
    name = "_cnm_checks_" + "".join(c if c.isalnum() else "_" for c in str(path.resolve()))
    spec = importlib.util.spec_from_file_location(name, path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def is_exercise_cell(cell) -> bool:
    return cell.cell_type == "code" and "exercise" in cell.metadata.get("tags", [])


class Kernel:
    """Runs the grader's short cells in the student's kernel, through one scratch cell at the end of the
    notebook."""

    def __init__(self, client: NotebookClient, notebook, workdir: Path, timeout: int):
        self.client, self.workdir, self.timeout, self.count, self.dead = client, workdir, timeout, 0, False
        notebook.cells.append(nbformat.v4.new_code_cell(""))
        self.index = len(notebook.cells) - 1
        self.cell = notebook.cells[self.index]
        self.run(_LOAD_SUPPORT.format(path=str(TOOLS / "grading_support.py")))

    def run(self, code: str) -> None:
        self.cell.source, self.cell.outputs = code, []
        self.cell.metadata["execution"] = {}
        self.client.execute_cell(self.cell, self.index, store_history=False)
        errors = [o for o in self.cell.outputs if o.get("output_type") == "error"]
        if errors:
            raise GraderError(f"{errors[0].get('ename')}: {errors[0].get('evalue')}")

    def paths(self) -> tuple[Path, Path]:
        self.count += 1
        return self.workdir / f"in-{self.count}.json", self.workdir / f"out-{self.count}.json"


class RemoteSubmission(grading_support.Submission):
    """The student's function, living in the kernel: every call sends the inputs there and decodes the
    result."""

    def __init__(self, kernel: Kernel, name: str):
        super().__init__(name)
        self.kernel = kernel

    def _invoke(self, args, kwargs):
        in_path, out_path = self.kernel.paths()
        in_path.write_text(
            json.dumps(
                {"args": grading_support.encode(args), "kwargs": grading_support.encode(kwargs)},
                allow_nan=True,
            ),
            encoding="utf-8",
        )
        try:
            self.kernel.run(
                f"_cnm_grading.remote_call(globals(), {self.name!r}, {str(in_path)!r}, {str(out_path)!r})"
            )
        except DeadKernelError:
            self.kernel.dead = True
            raise grading_support.StudentError(
                "KernelDied",
                "the kernel died while it ran (an os._exit, a crash, or more memory than the machine has)",
            ) from None
        except GraderError as error:
            if "KeyboardInterrupt" in str(error):  # the client interrupted the kernel at the timeout
                raise grading_support.StudentError(
                    "TimeoutError", f"it did not return within {self.kernel.timeout} s"
                ) from None
            if not out_path.is_file():
                raise grading_support.StudentError(
                    "RuntimeError", f"the grader could not call it ({error})"
                ) from None
        return json.loads(out_path.read_text(encoding="utf-8"))

    def _describe(self):
        _, out_path = self.kernel.paths()
        self.kernel.run(f"_cnm_grading.remote_describe(globals(), {self.name!r}, {str(out_path)!r})")
        return json.loads(out_path.read_text(encoding="utf-8"))


def _missing(name: str, mode: str) -> str:
    extra = (
        " (only the exercise cells ran: keep the function and what it needs in its exercise cell)"
        if mode == "exercises"
        else ""
    )
    return (
        f"the notebook does not define `{name}`: run the exercise's cell, and keep the function's name as "
        "the "
        f"exercise gives it{extra}"
    )


def grade(
    path: Path, checks: Path, timeout: int = 900, cells: str = "auto", exercises: list | None = None
) -> tuple[list[dict], list[str], str]:
    """Run ``path`` in a kernel and check its chapter's exercises from this process.

    Returns (one result per exercise, the cell errors, the mode: "all" or "exercises"). ``exercises``
    overrides the chapter's list (the tests use it to grade several variants in one kernel)."""
    notebook = nbformat.read(path, as_version=4)
    chapter = chapter_of(notebook, path)
    module = load_checks(checks)
    if exercises is None:
        exercises = module.exercises_for(chapter, module.EXERCISES)
    mode = (
        cells
        if cells != "auto"
        else ("exercises" if chapter in getattr(module, "EXERCISE_CELLS_ONLY", ()) else "all")
    )
    client = NotebookClient(
        notebook,
        timeout=timeout,
        allow_errors=True,
        interrupt_on_timeout=True,
        kernel_name="python3",
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(path.resolve().parent)}},
    )
    workdir = Path(tempfile.mkdtemp(prefix="cnm-grade-"))
    results, errors, died = [], [], ""
    try:
        with client.setup_kernel():
            count = 0
            for index, cell in enumerate(list(notebook.cells)):
                if cell.cell_type != "code" or (mode == "exercises" and not is_exercise_cell(cell)):
                    continue
                count += 1
                try:
                    client.execute_cell(cell, index, execution_count=count)  # a timeout interrupts the cell
                except DeadKernelError:
                    died = f"the kernel died while cell {index} ran"
                    break
                errors += [
                    f"cell {index}: TimeoutError: it ran longer than {timeout} s and was interrupted"
                    if o.get("ename") == "KeyboardInterrupt"
                    else f"cell {index}: {o.get('ename')}: {o.get('evalue')}"
                    for o in cell.get("outputs", [])
                    if o.get("output_type") == "error"
                ]
            kernel = None
            if not died:
                try:
                    kernel = Kernel(client, notebook, workdir, timeout)
                except (GraderError, DeadKernelError) as error:  # the notebook broke importing in its kernel
                    died = f"the grader could not load its helper into the notebook's kernel ({error})"
            for e in exercises:
                r = {"number": e.number, "name": e.name, "points": e.points}
                if kernel is None or kernel.dead:
                    died = died or "the kernel died while an earlier exercise was checked"
                    results.append(r | {"score": 0, "kind": "error", "message": f"not checked: {died}"})
                    continue
                submission = RemoteSubmission(kernel, e.name)
                try:
                    if not submission.info().get("defined"):
                        outcome = {"kind": "missing", "message": _missing(e.name, mode)}
                    else:
                        outcome = grading_support.run_check(e.check, submission)
                        if mode == "exercises" and "raised NameError" in outcome["message"]:
                            outcome["message"] += (
                                " (only the exercise cells ran: define what the function needs in "
                                "its own cell, or grade with --cells all)"
                            )
                except DeadKernelError:
                    kernel.dead = True
                    outcome = {
                        "kind": "error",
                        "message": "the kernel died while the grader described your function",
                    }
                except GraderError as error:
                    outcome = {
                        "kind": "error",
                        "message": f"the grader could not inspect `{e.name}` in the kernel ({error})",
                    }
                results.append(r | outcome | {"score": e.points if outcome["kind"] == "ok" else 0})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if died and not errors:
        errors.append(died)
    return results, errors, mode


def report(path: Path, chapter: str, results: list[dict], errors: list[str], mode: str = "all") -> str:
    lines = [f"Grading {path} (chapter {chapter})"]
    if mode == "exercises":
        lines.append(
            "  fast mode: only the cells tagged `exercise` ran (--cells all runs the whole notebook)"
        )
    if not results:
        lines.append(
            "  this chapter has no graded exercises; the notebook ran "
            + ("without errors" if not errors else f"with {len(errors)} cell error(s)")
        )
    for r in results:
        mark = {"ok": "PASS", "todo": "TODO"}.get(r["kind"], "FAIL")
        lines.append(
            f"  exercise {r['number']} `{r['name']}`: {mark} {r['score']}/{r['points']}"
            + (f"\n      {r['message']}" if r["message"] else "")
        )
    if errors:
        lines.append("  cells that raised an error while the notebook ran (first 5):")
        lines += [f"      {e}" for e in errors[:5]]
    total, possible = sum(r["score"] for r in results), sum(r["points"] for r in results)
    lines.append(f"Total: {total}/{possible}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument(
        "--checks",
        type=Path,
        default=TOOLS / "grading_checks.py",
        help="a file with EXERCISES and exercises_for() (default: the book's own checks)",
    )
    parser.add_argument(
        "--cells",
        choices=("auto", "all", "exercises"),
        default="auto",
        help="run every cell, only the exercise cells, or decide by chapter (default)",
    )
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        print(
            f"error: no notebook at {args.notebook} (make grade NB=path/to/notebook.ipynb)", file=sys.stderr
        )
        return 2
    if not args.checks.is_file():
        print(f"error: no checks file at {args.checks}", file=sys.stderr)
        return 2
    notebook = nbformat.read(args.notebook, as_version=4)
    results, errors, mode = grade(args.notebook, args.checks, args.timeout, args.cells)
    print(report(args.notebook, chapter_of(notebook, args.notebook), results, errors, mode))
    return 0 if all(r["score"] == r["points"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
