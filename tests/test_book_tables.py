"""The front page's and the teaching page's generated tables match the notebooks and their records."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import book_tables  # noqa: E402


def test_the_generated_tables_are_up_to_date():
    checked = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "book_tables.py"), "--check"], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr


def test_every_chapter_has_a_measured_run_time():
    times = json.loads(book_tables.RUN_TIMES.read_text())
    for path in book_tables.notebooks():
        assert times.get(path.name), (
            f"{path.name} has no recorded run time: run make notebooks NB=book/{path.name}"
        )
        assert all(m["seconds"] > 0 and m["processor"] for m in times[path.name])


def test_exercises_are_counted_from_the_chapters():
    count, graded = book_tables.exercises(ROOT / "book" / "13_full_scale.ipynb")
    assert count == 5 and graded == [(5, "run_seconds")]
    assert all(
        book_tables.exercises(path)[1] for path in book_tables.notebooks() if path.stem[:2].isdigit()
    ), "every chapter has a graded exercise"
