"""Classroom tooling: student versions (``make student``) and the grader (``make grade``), in both
directions."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
sys.path.insert(0, str(ROOT / "tools"))
import student  # noqa: E402
from grading_checks import EXERCISES  # noqa: E402

CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    student.write_student_versions(out, CHAPTERS)
    return out


def _code(notebook: dict, tag: str) -> list[str]:
    return [
        "".join(c["source"])
        for c in notebook["cells"]
        if c["cell_type"] == "code" and tag in c["metadata"].get("tags", [])
    ]


def test_every_chapter_has_a_student_version_without_solutions(student_dir):
    for chapter in CHAPTERS:
        text = (student_dir / "book" / chapter.name).read_text()
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, chapter.name
        assert json.loads(text)["metadata"]["cnm_minimal"] == {"chapter": chapter.stem, "version": "student"}
    assert (student_dir / "data_samples" / "charades-sta-sim" / "features.hdf5").is_file()
    assert (student_dir / "book" / "results").is_dir()


def test_every_committed_path_a_chapter_reads_outside_book_is_in_the_student_version(student_dir):
    """Chapters read ``Path("..") / "x" / ...`` or ``ROOT / "x" / ...`` relative to book/; every such path
    that the repository commits (not data/, runs/ or checkpoints/, which the reader makes) must exist in the
    student copy."""
    part = r'\s*/\s*"([^"]+)"'
    pattern = re.compile(r'(?:Path\("\.\."\)|ROOT)' + part + f"(?:{part})?(?:{part})?")
    needed = set()
    for chapter in CHAPTERS:
        for cell in json.loads(chapter.read_text())["cells"]:
            for match in pattern.finditer("".join(cell["source"])):
                path = "/".join(p for p in match.groups() if p)
                if (ROOT / path).exists() and path.split("/")[0] not in {"data", "runs", "checkpoints"}:
                    needed.add(path)
    assert {"configs", "tests/fixtures/golden_cnm_forward.npz"} <= needed
    assert not [path for path in sorted(needed) if not (student_dir / path).exists()]


def test_student_versions_are_deterministic(student_dir, tmp_path):
    student.write_student_versions(tmp_path, CHAPTERS)
    for chapter in CHAPTERS:
        assert (tmp_path / "book" / chapter.name).read_bytes() == (
            student_dir / "book" / chapter.name
        ).read_bytes()


def test_only_solution_cells_lose_their_outputs(student_dir):
    for chapter in CHAPTERS:
        original = json.loads(chapter.read_text())["cells"]
        stripped = json.loads((student_dir / "book" / chapter.name).read_text())["cells"]
        assert len(original) == len(stripped)
        for before, after in zip(original, stripped):
            if "SOLUTION" in "".join(before["source"]):
                assert after["cell_type"] != "code" or after["outputs"] == []
            else:
                assert after == before


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: f"{e.chapter}-{e.name}")
def test_untouched_student_exercise_fails_with_not_implemented(student_dir, exercise):
    notebook = json.loads((student_dir / "book" / f"{exercise.chapter}.ipynb").read_text())
    namespace: dict = {}
    for source in _code(notebook, "exercise"):
        try:
            exec(compile(source, exercise.chapter, "exec"), namespace)
        except NotImplementedError:
            pass  # the cell's own demo call reaches the student's raise
    with pytest.raises(NotImplementedError):
        exercise.check(namespace[exercise.name])


def test_strip_code_forms():
    source = (
        "def f(x):\n    # BEGIN SOLUTION\n    # HINT: double it\n    y = 2 * x\n    return y\n    # END "
        "SOLUTION\nz = 3  # SOLUTION\n"
    )
    stripped, changed = student.strip_code(source, "test")
    assert changed
    assert stripped == (
        "def f(x):\n    # HINT: double it\n    # YOUR CODE HERE\n"
        '    raise NotImplementedError("double it")\nraise NotImplementedError('
        f'"{student.DEFAULT_HINT}")\n'
    )
    with pytest.raises(ValueError, match="without END SOLUTION"):
        student.strip_code("# BEGIN SOLUTION\nx = 1\n", "cell 3")
    markdown = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "Q?\n\nBEGIN SOLUTION\nA.\nEND SOLUTION\n"}
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    assert (
        "".join(student.student_notebook(markdown, "x")["cells"][0]["source"])
        == "Q?\n\n*Your answer here.*\n"
    )


def test_every_chapter_ends_with_at_least_three_exercises():
    for chapter in CHAPTERS:
        cells = json.loads(chapter.read_text())["cells"]
        markdown = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
        section = next((m.split("## Exercises", 1)[1] for m in reversed(markdown) if "## Exercises" in m), "")
        assert len(re.findall(r"^\d+\. \*\*", section, re.M)) >= 3, chapter.name


def _grade(notebook: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "grade.py"), str(notebook), *options],
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_grade_end_to_end_on_the_student_version(student_dir):
    untouched = _grade(student_dir / "book" / "03_gaussian_mask.ipynb")  # the whole notebook runs
    assert untouched.returncode == 1, untouched.stdout + untouched.stderr
    assert "exercise 2 `half_height_width`: TODO 0/1" in untouched.stdout
    assert "Traceback" not in untouched.stdout and "Total: 0/1" in untouched.stdout
    assert "fast mode" not in untouched.stdout


def test_grade_end_to_end_on_the_solution_version():
    solved = _grade(BOOK / "03_gaussian_mask.ipynb", "--cells", "exercises")
    assert solved.returncode == 0, solved.stdout + solved.stderr
    assert "exercise 2 `half_height_width`: PASS 1/1" in solved.stdout and "Total: 1/1" in solved.stdout
    assert "fast mode: only the cells tagged `exercise` ran" in solved.stdout


def test_grade_explains_a_wrong_answer(student_dir, tmp_path):
    path = student_dir / "book" / "03_gaussian_mask.ipynb"
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        if "exercise" in cell["metadata"].get("tags", []):
            source = "".join(cell["source"]).replace("raise NotImplementedError(", "return 2 * w  # (")
            cell["source"] = source
    wrong = path.with_name("wrong.ipynb")
    wrong.write_text(json.dumps(notebook))
    result = _grade(wrong, "--cells", "exercises")
    assert result.returncode == 1
    assert "FAIL 0/1" in result.stdout and "measured on a fine grid" in result.stdout
    assert "Traceback" not in result.stdout


def test_chapter_9_is_graded_without_retraining(tmp_path):
    """Chapter 9's checks need only `clip_width_predictions`: by default only the exercise cells run. Every
    other code cell of this copy raises, so a run of the training cell would show up as a cell error."""
    import grade

    notebook = json.loads((BOOK / "09_training.ipynb").read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and "exercise" not in cell["metadata"].get("tags", []):
            cell["source"] = 'raise RuntimeError("a cell other than the exercise ran")\n'
    path = tmp_path / "09_training.ipynb"
    path.write_text(json.dumps(notebook))
    results, errors, mode = grade.grade(path, ROOT / "tools" / "grading_checks.py")
    assert mode == "exercises" and errors == [] and [r["kind"] for r in results] == ["ok"], (results, errors)
    assert (
        sum(c["cell_type"] == "code" for c in notebook["cells"]) > 20
    )  # 20-odd cells that would have raised


def test_grade_command_on_chapter_9_takes_seconds(student_dir):
    import time

    start = time.perf_counter()
    untouched = _grade(student_dir / "book" / "09_training.ipynb")
    assert untouched.returncode == 1 and "fast mode" in untouched.stdout, untouched.stdout + untouched.stderr
    assert "exercise 3 `clip_width_predictions`: TODO 0/1" in untouched.stdout
    assert time.perf_counter() - start < 120  # the training cell alone takes minutes


def test_the_answer_key_covers_every_written_exercise_and_stays_out_of_the_book(tmp_path, student_dir):
    import answers

    key = answers.parse_key(answers.KEY.read_text())
    assert answers.check(CHAPTERS, key) == []
    page = answers.build(tmp_path / "answers", CHAPTERS)
    text = (tmp_path / "answers" / "answers.md").read_text()
    for chapter in CHAPTERS:
        title, exercises = answers.chapter_exercises(chapter)
        assert f"## {title}" in text
        for e in exercises:
            assert e.solutions or not e.graded, (
                chapter.name,
                e.number,
            )  # every graded exercise shows its solution
    assert "BEGIN SOLUTION" in text and page.read_text().startswith("<!DOCTYPE html>")
    toc = (ROOT / "_toc.yml").read_text()
    assert "answer" not in toc
    for path in (student_dir / "book").glob("*.ipynb"):
        assert "answer_key" not in path.read_text()
    broken = answers.parse_key(
        answers.KEY.read_text().replace("### 4. Random, narrower", "### 5. Random, narrower")
    )
    problems = answers.check(CHAPTERS, broken)
    assert any("01_the_task: written exercise 4" in p for p in problems)
    assert any("does not have" in p for p in problems)
