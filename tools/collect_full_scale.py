"""Copy the numbers of the full-scale run (tools/full_scale_cpu.sh or tools/gpu_full_scale.sh) into
book/results/full_scale/, numbers only: the run's results.json (configuration, provenance, every epoch's
metrics on validation, test, prior-hard, time-reversed and Charades-CD's test splits), a 2-D histogram of
predicted against true test centres (no per-query rows: those hold the annotations' sentences), chapter 11's
video-blind baselines on the same test splits, and the machine: the CPU model, the peak memory and wall time
of every stretch the run took between interruptions, and the step-time measurement made before it.

    python tools/collect_full_scale.py [runs/full_scale] [book/results/full_scale]
"""

from __future__ import annotations

import json
import platform
import re
import sys
from pathlib import Path

from collect_timeline_results import blind_baselines, centre_histogram

from cnm_minimal.ablations import portable
from cnm_minimal.atomic import write_json


def stretches(source: Path) -> list[dict]:
    """Peak memory and wall time of each stretch of the run, from the ``/usr/bin/time -v`` reports."""
    found = []
    for path in sorted(source.glob("time_*.txt")):
        text = path.read_text()
        peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
        wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
        status = re.search(r"Exit status: (\d+)", text)
        parts = reversed(wall.group(1).split(":")) if wall else []
        found.append(
            {
                "started": path.stem.split("_")[1],
                "peak_rss_gb": int(peak.group(1)) / 1e6 if peak else None,
                "wall_s": sum(float(part) * 60**k for k, part in enumerate(parts)) if wall else None,
                "exit_status": int(status.group(1)) if status else None,
            }
        )
    return found


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main(source: str = "runs/full_scale", target: str = "book/results/full_scale") -> int:
    source, target = Path(source), Path(target)
    run = json.loads((source / "cnm_split" / "results.json").read_text())
    target.mkdir(parents=True, exist_ok=True)
    write_json(target / "results.json", portable(run))
    write_json(target / "centres.json", centre_histogram(source / "cnm_split" / "predictions_test.jsonl"))
    write_json(target / "baselines.json", blind_baselines(run))
    machine = {"cpu_model": cpu_model(), "stretches": stretches(source)}
    for name in ("step_times.json",):
        if (source / name).is_file():
            machine[name.removesuffix(".json")] = json.loads((source / name).read_text())
    write_json(target / "machine.json", machine)
    print(
        f"{source} -> {target}: epochs {run['epochs_run']}, selected {run['selected_epoch']}, "
        f"test mIoU {100 * run['test_at_selected']['mIoU']:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
