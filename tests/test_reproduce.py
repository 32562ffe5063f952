"""``python -m cnm_minimal reproduce``: the recipes, and the whole path of chapter 9's on loopback (a local
HTTP server serving copies of the registry's Charades-STA files, read from ../shared where present): download,
timeline features, a one-epoch tiny run, evaluate."""

import dataclasses
import json
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cnm_minimal import reproduce as rp
from cnm_minimal.data import download as dl
from cnm_minimal.data.timelines import TimelineKnobs

ROOT = Path(__file__).resolve().parents[1]
TINY = (
    "--epochs",
    "1",
    "--num-clips",
    "16",
    "--hidden",
    "16",
    "--heads",
    "2",
    "--video-layers",
    "1",
    "--query-layers",
    "1",
    "--batch-size",
    "256",
    "--warmup-updates",
    "5",
    "--device",
    "cpu",
)


def test_every_recipe_names_its_committed_result_and_fills_every_placeholder(tmp_path):
    assert {"chapter9", "cnm-split", "charades-cd", "study", "cpl-vs-cnm", "full-scale"} <= set(rp.RECIPES)
    for recipe in rp.RECIPES.values():
        assert (ROOT / recipe.committed).exists(), recipe.name
        filled = rp.arguments(
            recipe, tmp_path / "data", tmp_path / "out", tmp_path / "v.txt", tmp_path / "f.hdf5"
        )
        assert not any("{" in a for a in filled), recipe.name
        assert set(recipe.groups) <= {r.group for r in dl.RESOURCES.values()}
        # public files, simulated ones, or the sample the repository ships
        assert recipe.groups or recipe.simulate or "{repo}/data_samples/" in recipe.arguments, recipe.name


def test_a_relative_data_root_gives_the_run_a_features_path_it_can_open(tmp_path, monkeypatch):
    """The features file is passed beside ``--data {sta}``, which would prefix a relative path."""
    monkeypatch.chdir(tmp_path)
    filled = rp.arguments(rp.RECIPES["cnm-split"], Path("data"), Path("out"), None, Path("data/f.hdf5"))
    assert filled[filled.index("--feature-file") + 1] == str(tmp_path / "data" / "f.hdf5")


def test_a_record_names_no_folder_of_the_machine_that_made_it(tmp_path, monkeypatch):
    """The data root given relative (``data``, which must not touch ``--data``) or absolute, the word
    vectors from the environment: the record shows $CNM_DATA and $CNM_WORD_VECTORS, never a folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CNM_WORD_VECTORS", str(tmp_path / "v.npz"))
    for root in (Path("data"), tmp_path / "data"):
        results = {
            "provenance": {
                "command": f"python -m cnm_minimal ablations --data {root}/sta --feature-file "
                f"{tmp_path}/data/t/f.hdf5 --word-vectors {tmp_path}/v.npz --out runs/x"
            },
            "config": {
                "data": f"{root}/sta",
                "feature_file": f"{tmp_path}/data/t/f.hdf5",
                "note": "metadata/data",
            },
            "data": {"words_without_vector": ["selfie"]},
        }
        record = rp.portable_results(results, rp.path_labels(root, Path("runs/x")), "cnm-split")
        assert str(tmp_path) not in json.dumps(record)
        assert record["provenance"]["command"] == (
            "python -m cnm_minimal ablations --data $CNM_DATA/sta --feature-file $CNM_DATA/t/f.hdf5 "
            "--word-vectors $CNM_WORD_VECTORS --out OUT"
        )
        assert record["config"] == {
            "data": "$CNM_DATA/sta",
            "feature_file": "$CNM_DATA/t/f.hdf5",
            "note": "metadata/data",
        }
        assert record["provenance"]["reproduce"] == "python -m cnm_minimal reproduce cnm-split"
        assert record["data"]["words_without_vector"] == 1


def test_files_fetched_into_their_folders_or_straight_into_the_data_root_are_both_found(tmp_path):
    assert rp.folders(tmp_path)["charades-sta"] == tmp_path / "charades-sta"  # nothing there yet
    (tmp_path / "cnm_train.json").write_text("[]")  # download get --dest DIR
    assert rp.folders(tmp_path)["charades-sta"] == tmp_path
    assert rp.folders(tmp_path)["charades-cd"] == tmp_path / "charades-cd"
    (tmp_path / "charades-sta").mkdir()  # the folder wins when it exists
    assert rp.folders(tmp_path)["charades-sta"] == tmp_path / "charades-sta"


def test_features_are_named_by_their_knobs(tmp_path):
    book, full = (
        rp.features_folder(tmp_path, rp.BOOK_FEATURES),
        rp.features_folder(tmp_path, rp.FULL_FEATURES),
    )
    assert book != full and book.name.startswith("d256-") and full.name.startswith("d1024-")
    assert rp.features_folder(tmp_path, TimelineKnobs(dim=256, noise=0.5)) != book


def test_unknown_recipe_and_missing_word_vectors_are_one_line_errors(tmp_path):
    for argv, message in (
        (["nope"], "unknown result 'nope'; choose one of: list, chapter9"),
        (
            ["chapter9", "--data", str(tmp_path), "--word-vectors", str(tmp_path / "v.txt")],
            "v.txt: word-vector file not found",
        ),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "cnm_minimal", "reproduce", *argv],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "CNM_DATA": str(tmp_path)},
        )
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
        assert message in done.stderr and not list(tmp_path.iterdir())  # nothing fetched, nothing written


def test_a_run_found_in_the_folder_continues_unless_fresh(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(rp, "run", lambda command, argv, log: calls.append(argv))
    monkeypatch.setattr(rp, "fetch", lambda *args, **kwargs: None)
    recipe = dataclasses.replace(rp.RECIPES["full-scale"], features=None, word_vectors=False)
    rp.reproduce(recipe, tmp_path / "data", tmp_path / "out")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "last.pt").write_bytes(b"")
    rp.reproduce(recipe, tmp_path / "data", tmp_path / "out")
    rp.reproduce(recipe, tmp_path / "data", tmp_path / "out", fresh=True)
    assert [argv[-1] for argv in calls] == [str(tmp_path / "out"), "--resume", "--overwrite"]
    assert calls[0][:2] == ["--config", str(ROOT / "configs" / "charades_i3d.json")]


@pytest.fixture
def loopback(real_data, tmp_path, monkeypatch):
    """The Charades-STA resources of the registry, served from a local folder of copies of the real files."""
    served = tmp_path / "served"
    served.mkdir()
    for resource in (r for r in dl.RESOURCES.values() if r.group == "charades-sta"):
        (served / resource.filename).write_bytes((real_data / resource.filename).read_bytes())
    handler = partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for name, resource in list(dl.RESOURCES.items()):
        if resource.group == "charades-sta":
            url = f"http://127.0.0.1:{server.server_address[1]}/{resource.filename}"
            monkeypatch.setitem(dl.RESOURCES, name, dataclasses.replace(resource, url=url))
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_chapter9_from_an_empty_data_root_on_loopback(loopback, real_data, tmp_path, capsys):
    root, out = tmp_path / "data", tmp_path / "out"
    recipe = dataclasses.replace(
        rp.RECIPES["chapter9"],
        features=TimelineKnobs(dim=16, rows_per_second=0.5),
        arguments=rp.RECIPES["chapter9"].arguments + " " + " ".join(TINY),
    )
    vectors = real_data / "charades_glove_vocab.npz"
    steps = rp.reproduce(recipe, root, out, str(vectors))
    for resource in (r for r in dl.RESOURCES.values() if r.group == "charades-sta"):
        assert (
            dl.file_problem(root / "charades-sta" / resource.filename, resource.sha256, resource.size) is None
        )
    features = rp.features_folder(root, recipe.features) / "features.hdf5"
    assert features.is_file() and steps["features_s"] > 0
    results = rp.record_steps(out / "results.json", steps)
    assert (
        results["epochs_run"] == 1
        and results["prior_hard_count"] > 0
        and "centre_correlation_at_selected" in results
    )
    assert set(results["reproduce"]) == {"fetch_s", "features_s", "run_s", "total_s"}
    table = rp.run_baselines(results)
    assert table["same_window"] and table["prior_hard_count"] == results["prior_hard_count"]
    assert "best constant window" in rp.format_run_against_baselines(table)

    again = rp.reproduce(recipe, root, out, str(vectors))  # a finished run: resumed, nothing left to train
    assert again["features_s"] < steps["features_s"] / 2  # the features of the same knobs are not built again
    assert json.loads((out / "results.json").read_text())["test_at_selected"] == results["test_at_selected"]
    done = subprocess.run(
        [sys.executable, "-m", "cnm_minimal", "evaluate", str(out / "best.pt")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0 and "prior-hard" in done.stdout
    assert json.loads((features.parent / "manifest.json").read_text())["knobs"]["dim"] == 16
