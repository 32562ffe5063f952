"""Execute the book's notebooks in place, keeping widget state, so that they can be committed executed.

``make notebooks`` runs every ``book/*.ipynb``; ``make notebooks NB=book/01_the_task.ipynb`` runs one. Each
notebook runs in its own folder (as nbval and JupyterLab run it) with a fixed hash seed. The result is written
atomically (temporary file + rename), and execution metadata that changes at every run (timestamps) is dropped
so that diffs show real changes. Each execution's wall time is recorded in ``book/results/run_times.json``
(the latest one per processor), and the front page's and the teaching page's tables are regenerated from it
(``tools/book_tables.py``).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import book_tables  # beside this script in tools/
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
    client = NotebookClient(
        nb,
        timeout=TIMEOUT_S,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    strip_volatile(nb)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".ipynb", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        nbformat.write(nb, handle)
    os.replace(tmp, path)
    return time.perf_counter() - start


RUN_TIMES = Path(__file__).resolve().parents[1] / "book" / "results" / "run_times.json"


def processor() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux), else what the platform module knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def record_time(path: Path, seconds: float) -> None:
    """Keep the latest execution time of ``path`` per processor (written atomically)."""
    times = json.loads(RUN_TIMES.read_text()) if RUN_TIMES.is_file() else {}
    entry = {"seconds": round(seconds, 1), "processor": processor(), "cores": os.cpu_count()}
    kept = [m for m in times.get(path.name, []) if m["processor"] != entry["processor"]]
    times[path.name] = sorted(kept + [entry], key=lambda m: m["processor"])
    tmp = RUN_TIMES.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n")
    os.replace(tmp, RUN_TIMES)


def main(argv: list[str]) -> int:
    os.environ.setdefault("PYTHONHASHSEED", "0")
    paths = [Path(p) for p in argv[1:]] or sorted(Path("book").glob("*.ipynb"))
    for path in paths:
        print(f"executing {path} ...", flush=True)
        seconds = execute(path)
        record_time(path, seconds)
        print(f"  done in {seconds:.1f} s", flush=True)
    return book_tables.main([])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
