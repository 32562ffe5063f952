"""Grading checks of the chapters' coding exercises, run against the solutions in the notebooks.

Each chapter's graded exercise lives in a code cell tagged ``exercise``, with the solution between
``# BEGIN SOLUTION`` and ``# END SOLUTION``. Here the cell is executed on its own and the function it
defines is checked by ``tools/grading_checks.py``, the checks ``make grade`` runs on students' work.
"""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
sys.path.insert(0, str(ROOT / "tools"))
from grading_checks import EXERCISES  # noqa: E402


def exercise_namespace(notebook: str) -> dict:
    """Run the notebook's ``exercise`` cells (and nothing else) and return what they define."""
    cells = json.loads((BOOK / notebook).read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells
               if c["cell_type"] == "code" and "exercise" in c["metadata"].get("tags", [])]
    assert sources, f"{notebook} has no cell tagged 'exercise'"
    namespace: dict = {}
    for source in sources:
        assert "# BEGIN SOLUTION" in source and "# END SOLUTION" in source
        exec(compile(source, f"{notebook}:exercise", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: f"{e.chapter}-{e.name}")
def test_solution_passes_its_grading_check(exercise):
    exercise.check(exercise_namespace(f"{exercise.chapter}.ipynb")[exercise.name])


def test_every_component_chapter_has_a_graded_exercise():
    chapters = sorted(p.stem for p in BOOK.glob("0[3-8]_*.ipynb"))      # chapters 3-8: the components
    assert len(chapters) == 6 and set(chapters) <= {e.chapter for e in EXERCISES}


def test_every_exercise_cell_defines_its_graded_function():
    for chapter in sorted({e.chapter for e in EXERCISES}):
        namespace = exercise_namespace(f"{chapter}.ipynb")
        for exercise in EXERCISES:
            if exercise.chapter == chapter:
                assert callable(namespace.get(exercise.name)), (chapter, exercise.name)
