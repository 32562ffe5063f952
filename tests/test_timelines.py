"""Clip features from action timelines (cnm_minimal/data/timelines.py, `simulate timelines`)."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from cnm_minimal.data import simulate
from cnm_minimal.data.annotations import AnnotationError
from cnm_minimal.data.timelines import (
    Action,
    ActionClass,
    Timeline,
    TimelineKnobs,
    activation,
    detectability,
    direction,
    read_classes,
    read_timelines,
    timeline_features,
)

CLASSES = {
    "c0": ActionClass("Opening a door", "open", "door"),
    "c1": ActionClass("Closing a door", "close", "door"),
    "c2": ActionClass("Sneezing", "sneeze", None),
}
HEADER = "id,subject,scene,quality,relevance,verified,script,objects,descriptions,actions,length\r\n"


def write_csv(path, rows):
    path.write_text(
        HEADER
        + "".join(
            f'{vid},S,{scene},6,7,Yes,x,door,x,"{actions}",{length}\r\n'
            for vid, scene, actions, length in rows
        ),
        encoding="utf-8",
    )
    return path


def test_read_timelines_clips_drops_and_counts(tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        [
            ("V1", "Kitchen", "c0 1.0 4.0;c1 3.0 12.0", 10.0),
            ("V2", "Hallway", "c2 5.0 2.0;c9 1.0 2.0", 8.0),
            ("V3", "Hallway", "", 5.0),
        ],
    )
    timelines, report = read_timelines([path], CLASSES)
    assert timelines["V1"].actions == (Action("c0", 1.0, 4.0), Action("c1", 3.0, 10.0))
    assert timelines["V2"].actions == () and timelines["V3"].actions == ()
    assert report.as_dict() == {"videos": 3, "actions": 2, "clipped": 1, "dropped": 2}
    assert report.clipped == [f"{path}:2 (video V1)"]


def test_a_malformed_action_names_the_file_line_and_video(tmp_path):
    path = write_csv(tmp_path / "c.csv", [("V1", "Kitchen", "c0 1.0", 10.0)])
    with pytest.raises(AnnotationError, match=r"c\.csv:2 \(video V1\): actions must be"):
        read_timelines([path], CLASSES)


def test_one_action_without_noise_is_exactly_eq_2_3():
    knobs = TimelineKnobs(dim=16, rows_per_second=1.0, noise=0.0, scene_gain=0.0, presence=0.0, edge_s=2.0)
    timeline = Timeline("V", 10.0, "Kitchen", (Action("c0", 3.0, 5.0),))
    x = timeline_features(timeline, CLASSES, knobs, seed=0)
    signal = (
        (direction("open", 16, "verb") + direction("door", 16, "object"))
        * detectability("c0", knobs)
        / np.sqrt(2)
    )
    times = np.arange(10) + 0.5
    np.testing.assert_allclose(
        x, activation(times, 3.0, 5.0, 2.0)[:, None] * signal[None], rtol=1e-6, atol=1e-6
    )
    assert activation(times, 3.0, 5.0, 2.0).tolist() == [0, 0.25, 0.75, 1, 1, 0.75, 0.25, 0, 0, 0]


def test_features_depend_on_the_video_and_seed_only():
    knobs = TimelineKnobs(dim=32)
    a = Timeline("V1", 7.3, "Kitchen", (Action("c0", 1.0, 4.0), Action("c2", 2.0, 3.0)))
    first = timeline_features(a, CLASSES, knobs, seed=3)
    assert first.shape == (15, 32) and first.dtype == np.float32
    np.testing.assert_array_equal(first, timeline_features(a, CLASSES, knobs, seed=3))
    assert not np.allclose(first, timeline_features(a, CLASSES, knobs, seed=4))


def test_the_queried_action_is_visible_where_it_happens():
    """The verb direction of an action projects far more onto its rows than onto the rest (noise included)."""
    knobs = TimelineKnobs(dim=256)
    timeline = Timeline("V", 30.0, "Kitchen", (Action("c0", 10.0, 16.0), Action("c1", 20.0, 25.0)))
    x = timeline_features(timeline, CLASSES, knobs, seed=0)
    score = x @ direction("open", 256, "verb") / 256
    inside, outside = score[22:32].mean(), np.r_[score[:16], score[36:]].mean()
    assert inside - outside > 0.3


def test_the_timelines_command_writes_features_for_every_video(tmp_path):
    root = tmp_path / "charades"
    root.mkdir()
    (root / "classes.tsv").write_text(
        "# a comment line\nclass\tname\tobject\tverb\n"
        + "".join(f"{k}\t{c.name}\t{c.object or 'None'}\t{c.verb}\n" for k, c in CLASSES.items()),
        encoding="utf-8",
    )
    write_csv(root / "Charades_v1_train.csv", [("V1", "Kitchen", "c0 1.0 4.0", 10.0)])
    write_csv(root / "Charades_v1_test.csv", [("V2", "Hallway", "c1 0.0 3.0;c2 1.0 2.0", 6.0)])
    assert (
        simulate.main(
            [
                "timelines",
                "--charades",
                str(root),
                "--out",
                str(tmp_path / "out"),
                "--dim",
                "8",
                "--classes",
                str(root / "classes.tsv"),
            ]
        )
        == 0
    )
    with h5py.File(tmp_path / "out" / "features.hdf5") as handle:
        assert {k: handle[k].shape for k in handle} == {"V1": (20, 8), "V2": (12, 8)}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["timelines"] == {"videos": 2, "actions": 3, "clipped": 0, "dropped": 0}
    assert manifest["knobs"]["dim"] == 8 and "not I3D" in manifest["what"]


OFFICIAL = Path(__file__).parent / "fixtures" / "charades_official"


def test_the_shipped_class_table():
    classes = read_classes()
    assert len(classes) == 157 and list(classes)[0] == "c000" and list(classes)[-1] == "c156"
    assert classes["c081"] == ActionClass("Putting something on a shelf", "put", "shelf")
    assert classes["c152"] == ActionClass("Someone is smiling", "smile", None)
    assert sum(c.object is None for c in classes.values()) == 7


def test_the_official_class_files_are_read_and_agree_with_the_shipped_table():
    expected = {
        "c008": ActionClass("Opening a door", "open", "door"),
        "c081": ActionClass("Putting something on a shelf", "put", "shelf"),
        "c106": ActionClass("Drinking from a cup/glass/bottle", "drink", "cup/glass/bottle"),
        "c152": ActionClass("Someone is smiling", "smile", None),
    }
    assert read_classes(OFFICIAL) == expected == read_classes(OFFICIAL / "Charades_v1_classes.txt")
    shipped = read_classes()
    assert all(shipped[label] == c for label, c in expected.items())


def test_a_broken_official_class_file_is_named(tmp_path):
    for name in OFFICIAL.iterdir():
        (tmp_path / name.name).write_bytes(name.read_bytes())
    (tmp_path / "Charades_v1_mapping.txt").write_text("c008 o012 v012\nc081 o030\n", encoding="utf-8")
    with pytest.raises(AnnotationError, match=r"Charades_v1_mapping.txt:2: expected 3 fields"):
        read_classes(tmp_path)
    (tmp_path / "Charades_v1_mapping.txt").write_text("c008 o012 v099\n", encoding="utf-8")
    with pytest.raises(AnnotationError, match=r"class c008 maps to o012 v099"):
        read_classes(tmp_path)
    (tmp_path / "Charades_v1_verbclasses.txt").unlink()
    with pytest.raises(AnnotationError, match=r"Charades_v1_verbclasses.txt: missing"):
        read_classes(tmp_path)


def test_real_timelines(real_data):
    classes = read_classes()
    if (
        real_data / "charades_v1_classes.tsv"
    ).is_file():  # the same 157 classes as a transcription made apart
        assert read_classes(real_data / "charades_v1_classes.tsv") == classes
    timelines, report = read_timelines(
        [real_data / "Charades_v1_train.csv", real_data / "Charades_v1_test.csv"], classes
    )
    assert report.as_dict() == {"videos": 9848, "actions": 66493, "clipped": 19623, "dropped": 7}
    first = timelines["46GP8"]
    assert first.scene == "Kitchen" and [a.label for a in first.actions] == ["c092", "c147"]
    x = timeline_features(first, classes, TimelineKnobs(), seed=0)
    assert x.shape == (round(24.83 * 2), 1024) and np.isfinite(x).all()
