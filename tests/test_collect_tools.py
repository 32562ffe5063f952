"""The tools that copy a run's numbers into book/results/ (tools/collect_*.py): numbers only, nothing per
query."""

import json
import sys
from pathlib import Path

import pytest

from cnm_minimal import train
from cnm_minimal.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import collect_full_scale  # noqa: E402

TIME_REPORT = """\tCommand being timed: "python -m cnm_minimal train"
\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02:03.50
\tMaximum resident set size (kbytes): 8123456
\tExit status: 0
"""


@pytest.fixture(scope="module")
def full_scale_folder(tmp_path_factory):
    source = tmp_path_factory.mktemp("full_scale")
    config = TrainConfig.build(
        data=str(ROOT / "data_samples" / "charades-sta-sim"),
        out=str(source / "cnm_split"),
        epochs=1,
        num_clips=16,
        hidden=32,
        heads=2,
        video_layers=1,
        query_layers=1,
        batch_size=64,
        warmup_updates=5,
        device="cpu",
    )
    train.fit(config, log=lambda line: None)
    (source / "time_20261201T160510.txt").write_text(TIME_REPORT)
    (source / "step_times.json").write_text(json.dumps({"float32": {"s_per_iteration": 10.4}}))
    return source


def test_collect_full_scale_writes_numbers_only(full_scale_folder, tmp_path):
    assert collect_full_scale.main(str(full_scale_folder), str(tmp_path)) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "baselines.json",
        "centres.json",
        "machine.json",
        "results.json",
    ]
    run = json.loads((tmp_path / "results.json").read_text())
    assert run["epochs_run"] == 1 and len(run["history"]) == 1
    centres = json.loads((tmp_path / "centres.json").read_text())
    assert sum(map(sum, centres["counts"])) == centres["queries"] == run["data"]["test"]["kept"]
    machine = json.loads((tmp_path / "machine.json").read_text())
    assert machine["stretches"] == [
        {"started": "20261201T160510", "peak_rss_gb": 8.123456, "wall_s": 3723.5, "exit_status": 0}
    ]
    assert machine["step_times"] == {"float32": {"s_per_iteration": 10.4}}
    baselines = json.loads((tmp_path / "baselines.json").read_text())
    assert baselines["test"]["test_count"] == run["data"]["test"]["kept"]
    assert "sentence" not in "".join(p.read_text() for p in tmp_path.iterdir())


def test_portable_records_carry_no_path_of_this_machine_and_can_be_applied_twice():
    from cnm_minimal.ablations import portable

    here = str(Path.cwd())
    record = {
        "provenance": {
            "command": f"python {here}/cnm_minimal/__main__.py train --feature-file {here}/f.hdf5"
        },
        "config": {"feature_file": f"{here}/f.hdf5", "epochs": 1, "data": "../shared/data/charades-sta"},
        "data": {"words_without_vector": ["zzz", "yyy"]},
    }
    once = portable(record)
    assert once["provenance"]["command"] == "python -m cnm_minimal train --feature-file $PWD/f.hdf5"
    assert once["config"] == {
        "feature_file": "$PWD/f.hdf5",
        "epochs": 1,
        "data": "../shared/data/charades-sta",
    }
    assert once["data"] == {"words_without_vector": 2} and portable(once) == once


def test_proposal_spread_describes_each_cpl_proposal_over_the_test_split(tmp_path):
    import collect_timeline_results

    config = TrainConfig.build(
        data=str(ROOT / "data_samples" / "charades-sta-sim"),
        out=str(tmp_path / "cpl"),
        architecture="cpl",
        mode="joint",
        epochs=1,
        num_clips=16,
        hidden=32,
        heads=2,
        video_layers=1,
        query_layers=1,
        num_proposals=4,
        batch_size=64,
        warmup_updates=5,
        device="cpu",
    )
    data = train.prepare_data(config)
    train.fit(config, data, log=lambda line: None)
    spread = collect_timeline_results.proposal_spread(tmp_path / "cpl" / "best.pt", data)
    assert spread["queries"] == len(data.splits["test"])
    assert all(
        len(spread[key]) == 4
        for key in ("centre_mean", "centre_std", "width_mean", "width_std", "answer_share")
    )
    assert sum(spread["answer_share"]) == pytest.approx(1.0)
    assert all(0 <= c <= 1 for c in spread["centre_mean"]) and all(0 < w <= 1 for w in spread["width_mean"])
    assert spread == collect_timeline_results.proposal_spread(tmp_path / "cpl" / "best.pt", data)  # seeded
