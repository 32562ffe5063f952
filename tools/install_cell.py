"""Give every chapter a first code cell that makes a downloaded notebook run on its own (``make
install-cells``).

In the book's repository (its builds, its tests, JupyterLab started by ``make lab``) the package is importable
and the cell does nothing. A notebook opened anywhere else (downloaded from a rendered page, or on Colab)
clones the repository that ``repository.url`` in ``_config.yml`` names, installs its pinned requirements and
goes on from its ``book/`` folder, so that the notebook's relative paths (``../data_samples``, ``results/``)
hold. While the book has no public address (``url`` empty) the cell stops with one line that says what to do
instead.

Usage: python tools/install_cell.py [NOTEBOOK ...]   (default: every book/*.ipynb; run after changing the URL)
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAG = "install-cell"
TEMPLATE = """# Opened outside the book's repository (downloaded, or on Colab)? This cell fetches the repository, installs
# its pinned requirements and runs the notebook from its book/ folder. Inside the repository it does nothing.
import importlib.util
import os
import subprocess
import sys

REPOSITORY = {url!r}   # repository.url of _config.yml, written here by tools/install_cell.py
if importlib.util.find_spec("cnm_minimal") is None:
    if not REPOSITORY:
        raise RuntimeError("the cnm_minimal package is not installed here: clone the book's "
                           "repository and run `make lab` in it (README.md, Quick start)")
    if not os.path.isdir("cnm-from-scratch"):
        subprocess.run(["git", "clone", "--depth", "1", REPOSITORY, "cnm-from-scratch"], check=True)
    requirements = "cnm-from-scratch/requirements.txt"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-r", requirements], check=True)
    sys.path.insert(0, os.path.abspath("cnm-from-scratch"))
    os.chdir("cnm-from-scratch/book")"""


def repository_url(config: Path = ROOT / "_config.yml") -> str:
    """``repository.url`` of the book's configuration (a plain read: the file's own format is YAML)."""
    match = re.search(
        r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*\"?([^\"\n]*)\"?", config.read_text(), re.M
    )
    return match.group(1).strip() if match else ""


def install_cell(url: str) -> dict:
    source = TEMPLATE.format(url=url)
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": "install-" + hashlib.sha1(source.encode()).hexdigest()[:8],
        "metadata": {"tags": ["nbval-check-output", "hide-input", TAG]},
        "outputs": [],
        "source": source.splitlines(True),
    }


def with_install_cell(notebook: dict, url: str) -> dict:
    """The notebook with its install cell (replaced if present) before its first code cell."""
    cells = [c for c in notebook["cells"] if TAG not in c.get("metadata", {}).get("tags", [])]
    first = next((k for k, c in enumerate(cells) if c["cell_type"] == "code"), len(cells))
    return notebook | {"cells": cells[:first] + [install_cell(url)] + cells[first:]}


def main(paths: list[str]) -> int:
    url = repository_url()
    for path in map(Path, paths or sorted((ROOT / "book").glob("*.ipynb"))):
        notebook = with_install_cell(json.loads(path.read_text(encoding="utf-8")), url)
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{path}: install cell for {url or '(no public address yet)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
