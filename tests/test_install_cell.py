"""Every chapter starts with the cell that makes a downloaded notebook run on its own
(tools/install_cell.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import install_cell  # noqa: E402

NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_chapter_has_the_current_install_cell_first(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    marked = [c for c in cells if install_cell.TAG in c["metadata"].get("tags", [])]
    assert marked == [code[0]], f"{path.name}: run `make install-cells`"
    expected = install_cell.install_cell(install_cell.repository_url())
    assert "".join(code[0]["source"]) == "".join(expected["source"]), f"{path.name}: run `make install-cells`"
    assert code[0]["outputs"] == []  # in the repository it does nothing


def test_the_cell_is_silent_in_the_repository_and_says_what_to_do_elsewhere(tmp_path):
    source = "".join(install_cell.install_cell("")["source"])
    inside = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, cwd=ROOT / "book")
    assert inside.returncode == 0 and inside.stdout == inside.stderr == ""
    hidden = source.replace('find_spec("cnm_minimal")', 'find_spec("cnm_minimal_not_installed")')
    outside = subprocess.run([sys.executable, "-c", hidden], capture_output=True, text=True, cwd=tmp_path)
    assert outside.returncode != 0 and "clone the book's repository" in outside.stderr


def test_the_url_comes_from_the_book_configuration(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text('title: x\nrepository:\n  url: "https://example.org/cnm.git"\n  branch: main\n')
    assert install_cell.repository_url(config) == "https://example.org/cnm.git"
    assert "REPOSITORY = 'https://example.org/cnm.git'" in "".join(
        install_cell.install_cell("https://example.org/cnm.git")["source"]
    )
    config.write_text('repository:\n  url: ""\n')
    assert install_cell.repository_url(config) == ""
