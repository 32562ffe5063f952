"""Annotation readers and the bad-row policy (cnm_minimal/data/annotations.py)."""

import json

import pytest

from cnm_minimal.data.annotations import (
    CHARADES_CD_POLICY,
    CNM_POLICY,
    AnnotationError,
    AnnotationPolicy,
    Query,
    apply_policy,
    read_activitynet_json,
    read_charades_sta,
    read_cnm_json,
    read_durations,
    read_json_annotations,
    write_charades_sta,
    write_durations,
)


@pytest.fixture
def durations():
    return {"AAA01": 30.0, "BBB02": 20.0}


def write(tmp_path, text, name="ann.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_lines_and_splits_on_the_first_double_hash_only(tmp_path, durations):
    path = write(tmp_path, "AAA01 1.5 7.0##person #1 opens the door.\nBBB02 0.0 4.2##a person sits.\n")
    queries, report = read_charades_sta(path, durations)
    assert queries[0] == Query("AAA01", 30.0, 1.5, 7.0, "person #1 opens the door.", str(path), 1)
    assert queries[1].moment == pytest.approx((0.0, 0.21))
    assert report.kept == 2 and not report.dropped


@pytest.mark.parametrize(
    "line, message",
    [
        ("AAA01 1.0 2.0 person opens the door.", "no '##'"),
        ("AAA01 1.0##person opens the door.", "expected 'VID start end'"),
        ("AAA01 one 2.0##person opens the door.", "start 'one' is not a number"),
        ("AAA01 1.0 nan##person opens the door.", "must be a finite number"),
        ("AAA01 1.0 2.0##   ", "empty sentence"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, durations, line, message):
    path = write(tmp_path, "BBB02 0.0 4.2##a person sits.\n" + line + "\n")
    with pytest.raises(AnnotationError, match=message) as error:
        read_charades_sta(path, durations)
    assert f"{path}:2" in str(error.value)


def test_unknown_videos_are_all_listed(tmp_path, durations):
    path = write(tmp_path, "ZZZ99 0 1##a.\nAAA01 0 1##b.\nYYY98 0 1##c.\n")
    with pytest.raises(AnnotationError, match="2 row") as error:
        read_charades_sta(path, durations)
    assert f"{path}:1: ZZZ99" in str(error.value) and f"{path}:3: YYY98" in str(error.value)


def test_start_after_end_is_an_error_by_default_and_a_listed_drop_on_request(tmp_path, durations):
    path = write(tmp_path, "AAA01 8.0 7.0##a.\nAAA01 1.0 2.0##b.\nBBB02 9.0 3.0##c.\n")
    with pytest.raises(AnnotationError) as error:
        read_charades_sta(path, durations)
    assert f"{path}:1: start 8 > end 7 (video AAA01)" in str(error.value)
    assert f"{path}:3: start 9 > end 3 (video BBB02)" in str(error.value)
    queries, report = read_charades_sta(path, durations, AnnotationPolicy(start_after_end="drop"))
    assert [q.sentence for q in queries] == ["b."]
    assert report.dropped == [(f"{path}:1", "start > end"), (f"{path}:3", "start > end")]


def test_end_after_duration_drop_clip_or_error(tmp_path, durations):
    path = write(tmp_path, "BBB02 5.0 25.0##a.\nBBB02 1.0 2.0##b.\n")
    queries, report = read_charades_sta(path, durations)  # default: drop, as CNM
    assert len(queries) == 1 and report.drop_counts() == {"end > duration": 1}
    queries, report = read_charades_sta(path, durations, AnnotationPolicy(end_after_duration="clip"))
    assert queries[0].end == 20.0 and report.clipped == [f"{path}:1"]
    assert "clipped 1" in str(report)
    with pytest.raises(AnnotationError, match="end 25 > duration 20"):
        read_charades_sta(path, durations, AnnotationPolicy(end_after_duration="error"))
    with pytest.raises(ValueError):
        AnnotationPolicy(end_after_duration="ignore")


def test_durations_csv_with_crlf_and_extra_columns(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b'id,subject,length\r\nAAA01,"x, y",30.5\r\nBBB02,z,12\r\n')
    assert read_durations(path) == {"AAA01": 30.5, "BBB02": 12.0}
    bad = tmp_path / "bad.csv"
    bad.write_text("id,len\nAAA01,3\n")
    with pytest.raises(AnnotationError, match="needs the columns"):
        read_durations(bad)


def test_cnm_and_activitynet_json(tmp_path):
    cnm = write(tmp_path, json.dumps([["AAA01", 30.0, [1.0, 4.0], "a person sits."]]), "cnm.json")
    (q,), _ = read_cnm_json(cnm)
    assert (q.vid, q.duration, q.start, q.end, q.line) == ("AAA01", 30.0, 1.0, 4.0, 1)
    anet = write(
        tmp_path,
        json.dumps(
            {"v_x": {"duration": 50.0, "timestamps": [[0, 10], [5, 60]], "sentences": ["one.", "two."]}}
        ),
        "anet.json",
    )
    queries, report = read_activitynet_json(anet)
    assert [q.sentence for q in queries] == ["one."] and report.drop_counts() == {"end > duration": 1}
    broken = write(tmp_path, "[1, 2", "broken.json")
    with pytest.raises(AnnotationError, match="not valid json"):
        read_cnm_json(broken)
    mismatch = write(
        tmp_path, json.dumps({"v": {"duration": 5, "timestamps": [[0, 1]], "sentences": []}}), "m.json"
    )
    with pytest.raises(AnnotationError, match="1 timestamps but 0 sentences"):
        read_activitynet_json(mismatch)


def test_video_duration_stands_in_for_a_missing_duration(tmp_path):
    cd = write(
        tmp_path,
        json.dumps(
            {"v": {"video_duration": 12.5, "timestamps": [[1, 3]], "sentences": ["a."], "decode_fps": 16.0}}
        ),
        "cd.json",
    )
    (q,), _ = read_activitynet_json(cd)
    assert (q.vid, q.duration, q.start, q.end) == ("v", 12.5, 1.0, 3.0)
    assert read_json_annotations(cd)[0] == [q]
    both = write(
        tmp_path,
        json.dumps(
            {"v": {"duration": 10, "video_duration": 12.5, "timestamps": [[1, 3]], "sentences": ["a."]}}
        ),
        "both.json",
    )
    assert read_activitynet_json(both)[0][0].duration == 10.0  # "duration" wins where both exist
    neither = write(
        tmp_path, json.dumps({"v": {"timestamps": [[1, 3]], "sentences": ["a."]}}), "neither.json"
    )
    with pytest.raises(AnnotationError, match=r"video v needs 'duration' \(or 'video_duration'\)"):
        read_activitynet_json(neither)


def test_clipping_drops_a_row_that_starts_after_the_video_and_never_gives_start_after_end():
    rows = [
        Query("v", 10.0, 12.0, 15.0, "after the end.", "f", 1),  # start and end beyond the duration
        Query("v", 10.0, 8.0, 11.0, "ends late.", "f", 2),
        Query("v", 10.0, 12.0, 11.0, "start > end and end > duration.", "f", 3),
    ]
    kept, report = apply_policy(rows, CHARADES_CD_POLICY)
    assert [(q.start, q.end) for q in kept] == [(8.0, 10.0)]
    assert report.clipped == ["f:2"] and report.dropped == [
        ("f:1", "start after the video"),
        ("f:3", "start > end"),
    ]
    assert report.as_dict() == {
        "kept": 1,
        "dropped": {"start > end": 1, "start after the video": 1},
        "clipped": 1,
    }


def test_writers_round_trip(tmp_path):
    queries = [Query("AAA01", 30.0, 1.0, 4.5, "person #2 sits.", "x", 1)]
    write_charades_sta(tmp_path / "a.txt", queries)
    write_durations(tmp_path / "d.csv", {"AAA01": 30.0})
    assert (tmp_path / "d.csv").read_bytes() == b"id,length\r\nAAA01,30.00\r\n"
    (back,), _ = read_charades_sta(tmp_path / "a.txt", read_durations(tmp_path / "d.csv"))
    assert (back.vid, back.start, back.end, back.sentence) == ("AAA01", 1.0, 4.5, "person #2 sits.")


# --- the real files (skipped where ../shared is absent) ---------------------------------------------
def real_durations(root):
    return read_durations(root / "Charades_v1_train.csv", root / "Charades_v1_test.csv")


def test_real_files_have_the_known_sizes(real_data):
    durations = real_durations(real_data)
    assert len(durations) == 9848
    loose = AnnotationPolicy(end_after_duration="clip", start_after_end="drop")
    for split, rows in (("train", 12408), ("test", 3720)):
        queries, report = read_charades_sta(real_data / f"charades_sta_{split}.txt", durations, loose)
        assert len(queries) + len(report.dropped) == rows


def test_cnm_policy_reproduces_the_authors_json_exactly(real_data):
    durations = real_durations(real_data)
    for split, size in (("train", 10602), ("test", 3158)):
        queries, _ = read_charades_sta(real_data / f"charades_sta_{split}.txt", durations, CNM_POLICY)
        reference = json.loads((real_data / f"cnm_{split}.json").read_text())
        assert len(queries) == size
        assert [[q.vid, q.duration, [q.start, q.end], q.sentence] for q in queries] == reference


def test_real_start_after_end_rows_are_reported_by_file_and_line(real_data):
    path = real_data / "charades_sta_train.txt"
    with pytest.raises(AnnotationError) as error:
        read_charades_sta(path, real_durations(real_data))
    message = str(error.value)
    assert message.startswith("4 row(s)")
    for line, vid in ((8252, "LEOL6"), (8440, "IOL8Q"), (9623, "AKKWU"), (9624, "AKKWU")):
        assert f"{path}:{line}: " in message and f"(video {vid})" in message


def test_real_person_hash_sentences_stay_whole(real_data):
    queries, _ = read_charades_sta(
        real_data / "charades_sta_train.txt", real_durations(real_data), CNM_POLICY
    )
    hashed = [q.sentence for q in queries if "#" in q.sentence]
    assert hashed and all("##" not in s for s in hashed)
    assert any("person #1" in s for s in hashed)


def test_real_csv_durations_equal_the_json_durations(real_data):
    durations = real_durations(real_data)
    for split in ("train", "test"):
        queries, _ = read_cnm_json(real_data / f"cnm_{split}.json")
        assert all(durations[q.vid] == q.duration for q in queries)
