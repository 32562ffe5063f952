"""Charades-CD (Yuan et al. 2021): its json read by cnm_minimal/data/annotations.py, on a hand-written file
and on the real splits in ../shared/data/charades-cd (skipped where absent)."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from cnm_minimal.data.annotations import CHARADES_CD_POLICY, read_charades_cd, read_json_annotations

SPLITS = ("train", "val", "test_iid", "test_ood")


@pytest.fixture
def charades_cd(real_data):
    """The real Charades-CD files, beside the Charades-STA ones in ../shared/data; skipped where absent."""
    folder = real_data.parent / "charades-cd"
    if not folder.is_dir():
        pytest.skip("real Charades-CD annotations (../shared/data/charades-cd) not present")
    return folder


def test_a_hand_written_charades_cd_file(tmp_path):
    path = tmp_path / "charades_tiny.json"
    path.write_text(
        json.dumps(
            {
                "AAA01": {
                    "timestamps": [[1.5, 7.0], [20.0, 31.0]],
                    "sentences": ["person opens the door.", "a person sits."],
                    "video_duration": 30.0625,
                    "framestamps": [[24, 112], [320, 496]],
                    "decode_fps": 16.0,
                    "video_fps": -1.0,
                    "encoded_sentences": [[3, 4, 5], [6, 7]],
                },
                "BBB02": {
                    "timestamps": [[9.0, 3.0], [0.0, 4.0]],
                    "sentences": ["backwards.", "person #1 eats."],
                    "video_duration": 20.0,
                    "framestamps": [[144, 48], [0, 64]],
                    "decode_fps": 16.0,
                    "video_fps": -1.0,
                    "encoded_sentences": [[8], [9]],
                },
            }
        )
    )
    queries, report = read_charades_cd(path)
    assert [(q.vid, q.duration, q.start, q.end, q.sentence, q.line) for q in queries] == [
        ("AAA01", 30.0625, 1.5, 7.0, "person opens the door.", 1),
        ("AAA01", 30.0625, 20.0, 30.0625, "a person sits.", 2),  # end 31 > 30.0625: clipped
        ("BBB02", 20.0, 0.0, 4.0, "person #1 eats.", 4),
    ]
    assert report.clipped == [f"{path}:2"]
    assert report.dropped == [(f"{path}:3", "start > end")]
    assert report.as_dict() == {"kept": 3, "dropped": {"start > end": 1}, "clipped": 1}
    assert read_json_annotations(path, CHARADES_CD_POLICY) == (queries, report)


# counts measured with CHARADES_CD_POLICY: (videos, queries read, kept, clipped, dropped); the README's table
# gives the videos and queries, and 1,652 / 135 / 151 / 348 rows that end after video_duration; 3 of the
# test_ood ones (LEOL6 7.0-8.0 in 6.375 s, AKKWU 13.0-38.0 twice in 12.3 s) start after it too and are dropped
MEASURED = {
    "train": (4564, 11071, 11071, 1652, 0),
    "val": (333, 859, 859, 135, 0),
    "test_iid": (333, 823, 823, 151, 0),
    "test_ood": (1442, 3375, 3372, 345, 3),
}


@pytest.mark.parametrize("split", SPLITS)
def test_real_split_counts(charades_cd, split):
    videos, rows, kept, clipped, dropped = MEASURED[split]
    queries, report = read_charades_cd(charades_cd / f"charades_{split}.json")
    assert len({q.vid for q in queries}) == videos - (split == "test_ood") * 2  # LEOL6, AKKWU: no query left
    assert len(queries) + len(report.dropped) == rows
    assert report.as_dict() == {
        "kept": kept,
        "dropped": {"start after the video": dropped} if dropped else {},
        "clipped": clipped,
    }
    moments = np.array([q.moment for q in queries])
    assert moments.min() >= 0.0 and moments.max() <= 1.0 and (moments[:, 0] <= moments[:, 1]).all()


def test_real_train_clips_the_1652_queries_of_the_readme(charades_cd):
    _, report = read_charades_cd(charades_cd / "charades_train.json")
    assert len(report.clipped) == 1652


def test_real_median_centres_match_the_readme(charades_cd):
    for split, median in zip(SPLITS, (0.374, 0.431, 0.411, 0.530)):  # test_ood: 0.531 before the 3 drops
        queries, _ = read_charades_cd(charades_cd / f"charades_{split}.json")
        assert np.median([sum(q.moment) / 2 for q in queries]) == pytest.approx(median, abs=0.0005)


def test_real_ood_rows_that_start_after_the_video_are_dropped_not_made_zero_length(charades_cd):
    queries, report = read_charades_cd(charades_cd / "charades_test_ood.json")
    assert not [q for q in queries if q.start >= q.duration]
    assert [reason for _, reason in report.dropped] == ["start after the video"] * 3


def test_real_videos_are_charades_sta_videos(charades_cd, real_data):
    charades = set()
    for name in ("Charades_v1_train.csv", "Charades_v1_test.csv"):
        with open(real_data / name, newline="", encoding="utf-8") as handle:
            charades |= {row["id"] for row in csv.DictReader(handle)}
    sta = {
        line.split()[0]
        for split in ("train", "test")
        for line in (real_data / f"charades_sta_{split}.txt").read_text().splitlines()
        if line.strip()
    }
    seen = set()
    for split in SPLITS:
        vids = set(json.loads((charades_cd / f"charades_{split}.json").read_text()))
        assert vids <= charades and vids <= sta
        assert not vids & seen  # the four splits share no video
        seen |= vids
    assert seen == sta and len(seen) == 6672


def test_the_download_registry_pins_the_files_read_here(charades_cd):
    """The SHA-256 and size of each Charades-CD entry of the download registry are those of the files in
    ../shared."""
    from cnm_minimal.data import download

    for resource in (r for r in download.RESOURCES.values() if r.group == "charades-cd"):
        assert download.file_problem(charades_cd / resource.filename, resource.sha256, resource.size) is None


def write_cd_test_splits(folder, videos):
    """Charades-CD test files with one query on each video in ``videos`` (iid: the first, ood: the rest)."""
    folder.mkdir(parents=True, exist_ok=True)

    def entry(vid):
        return {"timestamps": [[1.0, 4.0]], "sentences": ["person opens the door."], "video_duration": 10.0}

    (folder / "charades_test_iid.json").write_text(json.dumps({videos[0]: entry(videos[0])}))
    (folder / "charades_test_ood.json").write_text(json.dumps({v: entry(v) for v in videos[1:]}))
    return folder


def test_charades_cd_test_splits_beside_a_run_leave_out_its_training_and_validation_videos(tmp_path):
    from cnm_minimal.data.files import DatasetFiles, prepare_splits

    files = DatasetFiles.simulated(Path(__file__).resolve().parents[1] / "data_samples" / "charades-sta-sim")
    splits = {name: {q.vid for q in files.queries(name)[0]} for name in files.annotations}
    test_only = sorted(splits["test"] - splits["train"])
    seen = sorted(splits["train"])[:2]
    cd = write_cd_test_splits(tmp_path / "cd", [test_only[0], seen[0], test_only[1], seen[1]])
    data = prepare_splits(files.with_charades_cd(cd), 1111, 16, 20)
    assert {q.vid for q in data.splits["cd_test_iid"].queries} == {test_only[0]}
    assert {q.vid for q in data.splits["cd_test_ood"].queries} == {test_only[1]}
    assert data.splits["cd_test_ood"].report.drop_counts() == {"video in the run's train or val split": 2}
    with pytest.raises(FileNotFoundError, match=r"charades_test_iid\.json: no such file \(--cd-splits"):
        files.with_charades_cd(tmp_path / "nowhere")


def test_real_charades_cd_test_queries_on_videos_outside_cnm_training(charades_cd, real_data):
    """Measured: of 823 test-iid and 3,372 test-ood queries, 258 and 818 lie on videos outside CNM's training
    split and its validation part (seed 0): the ones a run on CNM's split can be scored on without leakage."""
    from cnm_minimal.data.annotations import CNM_POLICY, read_json_annotations
    from cnm_minimal.data.files import carve_validation

    train, _ = read_json_annotations(real_data / "cnm_train.json", CNM_POLICY)
    kept, val = carve_validation(train, 0.1, 0)
    seen = {q.vid for q in kept + val}
    for split, expected in (("test_iid", 258), ("test_ood", 818)):
        queries, _ = read_charades_cd(charades_cd / f"charades_{split}.json")
        assert sum(q.vid not in seen for q in queries) == expected
