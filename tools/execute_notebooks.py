"""Execute the book's notebooks in place, keeping widget state, so that they can be committed executed.

``make notebooks`` runs every ``book/*.ipynb``; ``make notebooks NB=book/01_the_task.ipynb`` runs one.
Each notebook runs in its own folder (as nbval and JupyterLab run it) with a fixed hash seed. The result is written atomically (temporary file + rename), and
execution metadata that changes at every run (timestamps) is dropped so that diffs show real changes.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TIMEOUT_S = 1200


def strip_volatile(nb) -> None:
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                output.get("metadata", {}).pop("execution", None)


def execute(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=TIMEOUT_S, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    strip_volatile(nb)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".ipynb", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        nbformat.write(nb, handle)
    os.replace(tmp, path)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    os.environ.setdefault("PYTHONHASHSEED", "0")
    paths = [Path(p) for p in argv[1:]] or sorted(Path("book").glob("*.ipynb"))
    for path in paths:
        print(f"executing {path} ...", flush=True)
        print(f"  done in {execute(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
