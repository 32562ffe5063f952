"""The committed runs that chapter 12 renders (book/results/timelines/cpl_vs_cnm, cpl_lambda045): one command
per folder, configurations that differ only where the comparison says they do, tables that are the seeds'
means."""

import json
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from cnm_minimal.dual_decoder import DualDecoderConfig

TIMELINES = Path(__file__).resolve().parents[1] / "book" / "results" / "timelines"
FOLDERS = {"cpl_vs_cnm": ("cpl", "full"), "cpl_lambda045": ("cpl",)}
CPL_ONLY = {"num_proposals", "sigma", "gamma", "div_lambda", "alpha1", "alpha2", "selection"}


def records(folder: str, variant: str) -> list[dict]:
    return [json.loads((TIMELINES / folder / f"{variant}_seed{seed}.json").read_text()) for seed in range(3)]


def runs():
    return [(folder, variant) for folder, variants in FOLDERS.items() for variant in variants]


@pytest.mark.parametrize("folder,variant", runs())
def test_the_table_is_the_mean_and_std_of_the_seed_records(folder, variant):
    table = json.loads((TIMELINES / folder / "ablations.json").read_text())[variant]
    seeds = records(folder, variant)
    assert table["seeds"] == [r["config"]["seed"] for r in seeds] == [0, 1, 2]
    for part, key in (
        ("", "test_at_selected"),
        ("prior_hard_", "test_prior_hard_at_selected"),
        ("reversed_", "test_reversed_at_selected"),
    ):
        for metric in ("R@0.3", "R@0.5", "R@0.7", "mIoU"):
            values = [r[key][metric] for r in seeds]
            assert table[part + "mean"][metric] == pytest.approx(np.mean(values), abs=1e-12)
            assert table[part + "std"][metric] == pytest.approx(np.std(values), abs=1e-12)


def test_cnm_and_cpl_differ_only_in_the_model_and_cpl_runs_only_in_lambda():
    cnm, cpl, scaled = (
        records("cpl_vs_cnm", "full")[0],
        records("cpl_vs_cnm", "cpl")[0],
        records("cpl_lambda045", "cpl")[0],
    )
    ignored = {"out", "model", "architecture", "mode"}
    assert {k: v for k, v in cnm["config"].items() if k not in ignored} == {
        k: v for k, v in cpl["config"].items() if k not in ignored
    }
    assert (cnm["config"]["mode"], cpl["config"]["mode"]) == ("alternating", "joint")
    shared = {f.name for f in fields(DualDecoderConfig)}  # the transformer both build, the margins
    assert {k: cpl["config"]["model"][k] for k in shared} == {k: cnm["config"]["model"][k] for k in shared}
    assert set(cpl["config"]["model"]) == shared | CPL_ONLY
    changed = {k for k in cpl["config"]["model"] if cpl["config"]["model"][k] != scaled["config"]["model"][k]}
    assert changed == {"div_lambda"} and scaled["config"]["model"]["div_lambda"] == 0.45
    for record in (cnm, cpl, scaled):
        assert record["config"]["cd_splits"] == "$CNM_DATA/charades-cd" and record["config"]["epochs"] == 2
        assert set(record["extra_at_selected"]) == {"cd_test_iid", "cd_test_ood"}


def test_the_committed_records_hold_numbers_not_sentences():
    text = "".join(p.read_text() for folder in FOLDERS for p in (TIMELINES / folder).iterdir())
    assert '"sentence"' not in text and str(TIMELINES.parents[3]) + "/" not in text  # no path of this machine


def test_every_committed_record_names_the_data_root_and_the_command_that_reruns_it():
    """No record spells a folder of the machine that made it: the data root is $CNM_DATA, the word-vector file
    $CNM_WORD_VECTORS; each run's provenance names its ``reproduce`` recipe, which exists."""
    from cnm_minimal.reproduce import RECIPES

    results = TIMELINES.parent
    for path in results.rglob("*.json"):
        text = path.read_text()
        assert "../shared" not in text and "charades_glove_vocab" not in text and "/tmp/" not in text, path
        record = json.loads(text)
        provenance = record.get("provenance") if isinstance(record, dict) else None
        if (
            isinstance(provenance, dict)
            and "command" in provenance
            and "cnm_minimal" in provenance["command"]
        ):
            assert (
                provenance.get("reproduce", "").split(" ")[-1] in RECIPES
                or "reproduce" in provenance["command"]
            ), path
