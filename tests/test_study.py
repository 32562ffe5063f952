"""Chapter 10's controlled study (cnm_minimal/study.py) and the backwards-played training videos it uses."""

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from cnm_minimal import resume, train
from cnm_minimal.config import ConfigError, TrainConfig
from cnm_minimal.data.dataset import play_backwards
from cnm_minimal.data.timelines import Action, ActionClass, Timeline, read_classes, read_timelines
from cnm_minimal.study import confuser_strata, confusers, matched_action, strata_scores

CLASSES = {
    "c0": ActionClass("Opening a door", "open", "door"),
    "c1": ActionClass("Closing a door", "close", "door"),
    "c2": ActionClass("Opening a box", "open", "box"),
    "c3": ActionClass("Sneezing", "sneeze", None),
    "c4": ActionClass("Sitting in a chair", "sit", "chair"),
}
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "charades-sta"


def timeline(*actions):
    return Timeline("V", 20.0, "Kitchen", tuple(Action(*a) for a in actions))


def test_the_matched_action_is_the_best_overlap_and_must_reach_iou_half():
    video = timeline(("c0", 2.0, 6.0), ("c4", 0.0, 20.0))
    assert matched_action(video, [0.1, 0.3], 20.0) == 0  # [2, 6] s exactly
    assert matched_action(video, [0.0, 0.95], 20.0) == 1  # sitting covers it
    assert matched_action(video, [0.5, 0.6], 20.0) is None  # nothing overlaps by IoU >= 0.5
    assert matched_action(timeline(), [0.1, 0.3], 20.0) is None


def test_confusers_share_the_object_or_the_verb_and_lie_mostly_outside_the_moment():
    video = timeline(
        ("c0", 2.0, 6.0), ("c1", 10.0, 14.0), ("c2", 15.0, 18.0), ("c3", 3.0, 5.0), ("c1", 3.0, 6.0)
    )
    # closing the door at 10-14 s shares the object, opening a box the verb; sneezing shares nothing; closing
    # the door at 3-6 s lies inside the moment
    assert confusers(video, 0, CLASSES, [0.1, 0.3], 20.0) == {"object": 1, "verb": 1}
    assert confusers(video, 3, CLASSES, [0.15, 0.25], 20.0) == {"object": 0, "verb": 0}  # no object: no match


def test_strata_and_their_scores():
    timelines = {"A": timeline(("c0", 2.0, 6.0), ("c1", 10.0, 14.0)), "B": timeline(("c0", 2.0, 6.0))}
    rows = [
        {"vid": "A", "moment": [0.1, 0.3], "duration": 20.0, "iou": 0.2},
        {"vid": "B", "moment": [0.1, 0.3], "duration": 20.0, "iou": 0.6},
        {"vid": "B", "moment": [0.7, 0.9], "duration": 20.0, "iou": 0.4},
        {"vid": "C", "moment": [0.1, 0.3], "duration": 20.0, "iou": 0.0},
    ]
    strata = confuser_strata(rows, timelines, CLASSES)
    assert strata == ["confusable", "distinct", "unmatched", "unmatched"]
    scores = strata_scores(rows, strata)
    assert scores["distinct"] == {"count": 1, "mIoU": 0.6, "R@0.5": 1.0}
    assert scores["unmatched"]["count"] == 2 and scores["unmatched"]["mIoU"] == pytest.approx(0.2)
    assert strata_scores(rows[:1], strata[:1])["distinct"] == {"count": 0, "mIoU": None, "R@0.5": None}


@pytest.fixture(scope="module")
def data():
    return train.prepare_data(TrainConfig.build(num_clips=16, device="cpu"))


def test_playing_videos_backwards_mirrors_clips_and_moment_and_is_seeded(data):
    split = data.splits["train"]
    chosen = play_backwards(split, 0.5, seed=3)
    videos = {q.vid for q in split.queries}
    assert len(chosen) == round(0.5 * len(videos)) and chosen == play_backwards(split, 0.5, seed=3)
    assert chosen != play_backwards(split, 0.5, seed=4)
    play_backwards(split, 0.5, seed=3)
    index = next(i for i, q in enumerate(split.queries) if q.vid in chosen)
    sample, query = split[index], split.queries[index]
    np.testing.assert_array_equal(sample.frames, split.clips(query.vid)[::-1])
    assert sample.moment == pytest.approx((1 - query.moment[1], 1 - query.moment[0]))
    split.reversed_videos = frozenset()
    assert split[index].moment == query.moment


def test_reverse_fraction_reaches_the_training_split_only():
    prepared = train.prepare_data(TrainConfig.build(num_clips=16, device="cpu", reverse_fraction=1.0))
    assert prepared.splits["train"].reversed_videos == {q.vid for q in prepared.splits["train"].queries}
    assert not prepared.splits["val"].reversed_videos and not prepared.splits["test"].reversed_videos


def test_a_run_recorded_before_an_option_existed_resumes_when_the_option_keeps_its_default():
    stored = asdict(TrainConfig())
    del stored["reverse_fraction"]
    assert resume.resume_changes(stored, TrainConfig(), allow=False) == []
    with pytest.raises(
        ConfigError, match=r"cannot change --reverse-fraction 0.0 -> 0.5 \(the training videos\)"
    ):
        resume.resume_changes(stored, TrainConfig(reverse_fraction=0.5), allow=True)


@pytest.mark.skipif(
    not (SHARED / "Charades_v1_test.csv").is_file(), reason="needs ../shared/data/charades-sta"
)
def test_every_real_test_query_of_cnm_split_matches_an_action_of_its_timeline():
    classes = read_classes(SHARED / "charades_v1_classes.tsv")
    timelines, _ = read_timelines(sorted(SHARED.glob("Charades_v1_*.csv")), classes)
    rows = [
        {"vid": vid, "duration": duration, "moment": [min(s / duration, 1.0), min(e / duration, 1.0)]}
        for vid, duration, (s, e), _ in json.loads((SHARED / "cnm_test.json").read_text())
    ]
    strata = confuser_strata(rows, timelines, classes)
    assert len(rows) == 3158 and strata.count("unmatched") == 0  # measured: 1,683 confusable, 1,475 distinct
    assert (strata.count("confusable"), strata.count("distinct")) == (1683, 1475)
