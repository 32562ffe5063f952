"""Safe downloads and feature-file checks (cnm_minimal/data/download.py).

No test touches the network: a small HTTP server on 127.0.0.1 serves seeded random bytes, with
switches that make it misbehave the ways real servers do (drop the connection, ignore Range,
serve other bytes, stall, omit Content-Length, answer with an error status).
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cnm_minimal.data import download as dl
from cnm_minimal.data.download import (
    ChecksumError, DownloadError, FeatureFileError, ManualResource, Resource, SizeMismatchError,
    download, verify_features, video_ids_from_annotations,
)

BODY = random.Random(1234).randbytes(300_000)
BODY_SHA = hashlib.sha256(BODY).hexdigest()
FAST = dict(chunk_size=16 * 1024, timeout=5, retry_wait=0)
CNM_JSON = '[["AO8RW", 30.1, [0.0, 6.9], "s"], ["Y6R7T", 20.0, [1, 2], "t"]]'


class FixtureServer(ThreadingHTTPServer):
    """Serves ``body`` at any path and records what it was asked."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FixtureHandler)
        self.body = BODY
        self.drop_after: int | None = None  # send this many body bytes, then hang up...
        self.drops_left = 0  # ...on this many requests
        self.stall_after: int | None = None  # send this many bytes, then go silent...
        self.stalls_left = 0  # ...on this many requests
        self.ignore_range = False
        self.omit_length = False
        self.status: int | None = None  # answer every request with this error status
        self.ranges: list[str | None] = []  # the Range header of every request, in order

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/file.bin"

    @property
    def requests(self) -> int:
        return len(self.ranges)


class FixtureHandler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        srv: FixtureServer = self.server
        header = self.headers.get("Range")
        srv.ranges.append(header)
        if srv.status is not None:
            self.send_error(srv.status)
            return
        body, start = srv.body, 0
        if header and not srv.ignore_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", header)[1])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        if not srv.omit_length:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if srv.drops_left > 0:
            srv.drops_left -= 1
            self.wfile.write(payload[: srv.drop_after])
            self.close_connection = True  # hang up before Content-Length is reached
            return
        if srv.stalls_left > 0:
            srv.stalls_left -= 1
            self.wfile.write(payload[: srv.stall_after])
            self.wfile.flush()
            time.sleep(1.0)  # longer than the client's timeout in the test
            return
        self.wfile.write(payload)


@pytest.fixture
def server():
    srv = FixtureServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def resource_for(srv: FixtureServer, sha256: str | None = BODY_SHA, size: int | None = None):
    return Resource("fixture", srv.url, sha256, "file.bin", size)


# --- the transfer ----------------------------------------------------------------------------


def test_fresh_download_gives_the_exact_bytes(server, tmp_path):
    path = download(resource_for(server, size=len(BODY)), tmp_path / "new" / "dir", **FAST)
    assert path == tmp_path / "new" / "dir" / "file.bin"
    assert path.read_bytes() == BODY
    assert not path.with_name("file.bin.part").exists()
    assert server.ranges == [None]


def test_interrupted_transfer_resumes_with_a_range_request(server, tmp_path):
    server.drop_after, server.drops_left = 100_000, 1
    path = download(resource_for(server), tmp_path, **FAST)
    assert server.ranges == [None, "bytes=100000-"]
    assert path.read_bytes() == BODY


def test_socket_timeout_is_retried_and_resumed(server, tmp_path):
    server.stall_after, server.stalls_left = 50_000, 1
    path = download(resource_for(server), tmp_path, chunk_size=16 * 1024, timeout=0.3, retry_wait=0)
    assert server.requests == 2
    assert server.ranges[1] is not None and server.ranges[1].startswith("bytes=")
    assert path.read_bytes() == BODY


def test_leftover_part_from_an_earlier_run_is_resumed(server, tmp_path):
    (tmp_path / "file.bin.part").write_bytes(BODY[:123_456])
    path = download(resource_for(server), tmp_path, **FAST)
    assert server.ranges == ["bytes=123456-"]  # only the missing bytes were requested
    assert path.read_bytes() == BODY
    assert not (tmp_path / "file.bin.part").exists()


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    server.ignore_range = True
    (tmp_path / "file.bin.part").write_bytes(BODY[:123_456])
    path = download(resource_for(server), tmp_path, **FAST)
    assert server.ranges == ["bytes=123456-"]  # asked for a range, got the full body (200)
    assert path.read_bytes() == BODY  # the old prefix was truncated, not appended to


def test_complete_part_answered_416_is_verified_without_a_body(server, tmp_path):
    (tmp_path / "file.bin.part").write_bytes(BODY)
    path = download(resource_for(server), tmp_path, **FAST)  # size unknown: must ask the server
    assert server.ranges == [f"bytes={len(BODY)}-"]
    assert path.read_bytes() == BODY


def test_bad_part_answered_416_is_deleted_and_restarted_once(server, tmp_path):
    (tmp_path / "file.bin.part").write_bytes(bytes(len(BODY)))  # right length, wrong bytes
    path = download(resource_for(server), tmp_path, **FAST)
    assert server.ranges == [f"bytes={len(BODY)}-", None]
    assert path.read_bytes() == BODY


def test_part_with_every_byte_needs_no_request_when_the_size_is_known(server, tmp_path):
    (tmp_path / "file.bin.part").write_bytes(BODY)
    path = download(resource_for(server, size=len(BODY)), tmp_path, **FAST)
    assert server.requests == 0
    assert path.read_bytes() == BODY


def test_wrong_bytes_raise_checksum_error_and_leave_nothing(server, tmp_path):
    server.body = BODY[:-1] + b"\x00"
    with pytest.raises(ChecksumError) as info:
        download(resource_for(server), tmp_path, **FAST)
    message = str(info.value)
    assert server.url in message
    assert BODY_SHA in message
    assert hashlib.sha256(server.body).hexdigest() in message
    assert isinstance(info.value, ValueError)
    assert not (tmp_path / "file.bin").exists()
    assert not (tmp_path / "file.bin.part").exists()


def test_existing_good_file_makes_no_request(server, tmp_path):
    (tmp_path / "file.bin").write_bytes(BODY)
    path = download(resource_for(server), tmp_path, **FAST)
    assert path == tmp_path / "file.bin"
    assert server.requests == 0


def test_existing_wrong_file_is_left_untouched(server, tmp_path):
    mine = b"my own notes, not the dataset\n"
    (tmp_path / "file.bin").write_bytes(mine)
    with pytest.raises(ChecksumError) as info:
        download(resource_for(server), tmp_path, **FAST)
    message = str(info.value)
    assert str(tmp_path / "file.bin") in message
    assert BODY_SHA in message and hashlib.sha256(mine).hexdigest() in message
    assert "move it away" in message
    assert (tmp_path / "file.bin").read_bytes() == mine
    assert server.requests == 0


def test_exhausted_retries_keep_the_partial_file(server, tmp_path):
    server.drop_after, server.drops_left = 10_000, 99
    with pytest.raises(DownloadError) as info:
        download(resource_for(server), tmp_path, retries=2, **FAST)
    message = str(info.value)
    part = tmp_path / "file.bin.part"
    assert str(part) in message and "kept" in message and "rerun" in message
    assert server.requests == 3  # the first try and two retries, each resuming
    assert server.ranges == [None, "bytes=10000-", "bytes=20000-"]
    assert part.read_bytes() == BODY[:30_000]
    assert not (tmp_path / "file.bin").exists()


def test_http_404_fails_at_once_without_retries(server, tmp_path):
    server.status = 404
    with pytest.raises(DownloadError, match="404"):
        download(resource_for(server), tmp_path, retries=3, **FAST)
    assert server.requests == 1


def test_http_503_is_retried(server, tmp_path):
    server.status = 503
    with pytest.raises(DownloadError, match="giving up after 3"):
        download(resource_for(server), tmp_path, retries=2, **FAST)
    assert server.requests == 3


def test_announced_size_contradicting_the_registry_fails(server, tmp_path):
    with pytest.raises(SizeMismatchError, match=f"announces {len(BODY)} bytes"):
        download(resource_for(server, size=len(BODY) + 1), tmp_path, **FAST)
    assert not (tmp_path / "file.bin").exists()


def test_more_bytes_than_expected_fail_and_are_not_kept(server, tmp_path):
    server.omit_length = True  # the server gives no size; only the registry knows it
    with pytest.raises(SizeMismatchError, match="more than the expected"):
        download(resource_for(server, size=len(BODY) - 1000), tmp_path, **FAST)
    assert not (tmp_path / "file.bin.part").exists()
    assert not (tmp_path / "file.bin").exists()


def test_unpinned_resource_is_refused_unless_allowed(server, tmp_path, capsys):
    unpinned = resource_for(server, sha256=None)
    with pytest.raises(ValueError, match="allow_unpinned"):
        download(unpinned, tmp_path, **FAST)
    assert server.requests == 0
    path = download(unpinned, tmp_path, allow_unpinned=True, **FAST)
    assert path.read_bytes() == BODY
    assert BODY_SHA in capsys.readouterr().out  # printed so that the reader can pin it


def test_progress_bar_does_not_change_the_result(server, tmp_path):
    path = download(resource_for(server), tmp_path, progress=True, **FAST)
    assert path.read_bytes() == BODY


# --- the registry ----------------------------------------------------------------------------


def test_registry_entries_are_pinned_https_and_distinct():
    resources = list(dl.RESOURCES.values())
    assert len(resources) >= 7
    for r in resources:
        assert r.sha256 is not None and re.fullmatch(r"[0-9a-f]{64}", r.sha256), r.name
        assert r.url.startswith("https://"), r.name
        assert r.size is not None and r.size > 0, r.name
    assert len({r.filename for r in resources}) == len(resources)
    assert len({r.sha256 for r in resources}) == len(resources)
    for group, names in dl.GROUPS.items():
        assert group in dl.DEFAULT_DEST
        assert all(name in dl.RESOURCES for name in names)
    charades = {dl.RESOURCES[n].filename for n in dl.GROUPS["charades-sta"]}
    wanted = {"charades_sta_train.txt", "charades_sta_test.txt", "cnm_train.json", "cnm_test.json"}
    assert wanted <= charades


def test_resource_rejects_malformed_entries():
    with pytest.raises(ValueError, match="sha256"):
        Resource("x", "https://example.org/a", "abc", "a")
    with pytest.raises(ValueError, match="bare file name"):
        Resource("x", "https://example.org/a", None, "../a")
    with pytest.raises(ValueError, match="http"):
        Resource("x", "ftp://example.org/a", None, "a")


def test_manual_resources_explain_the_steps_and_the_path():
    assert dl.MANUAL_RESOURCES["charades-i3d"].path == "data/charades-sta/i3d_features.hdf5"
    assert dl.MANUAL_RESOURCES["charades-i3d"].dim == 1024
    assert dl.MANUAL_RESOURCES["activitynet-c3d"].dim == 500
    assert dl.MANUAL_RESOURCES["activitynet-clip"].dim == 512
    for manual in dl.MANUAL_RESOURCES.values():
        text = manual.how_to_get()
        assert manual.path in text and "no checksum" in text and "check-features" in text


# --- hand-fetched feature files ----------------------------------------------------------------


def write_features(path: Path, arrays: dict, layout: str = "flat") -> Path:
    from cnm_minimal.data.features import write_features as write

    write(path, arrays, layout=layout)
    return path


def test_good_feature_file_passes(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    arrays = {vid: rng.normal(size=(5, 8)) for vid in ("AAAAA", "BBBBB")}
    path = write_features(tmp_path / "f.hdf5", arrays)
    assert verify_features(path, ["AAAAA", "BBBBB", "AAAAA"], 8) == 2
    manual = ManualResource("toy", str(path), 8, "get it somehow")
    assert manual.verify(["BBBBB"]) == 1


def test_feature_problems_are_all_listed_by_video_id(tmp_path):
    import numpy as np

    bad_values = np.zeros((4, 8))
    bad_values[2, 3] = np.nan
    path = write_features(
        tmp_path / "f.hdf5",
        {"GOOD1": np.ones((3, 8)), "WIDE1": np.ones((3, 16)), "NANV1": bad_values},
    )
    with pytest.raises(FeatureFileError) as info:
        verify_features(path, ["GOOD1", "MISS1", "WIDE1", "NANV1", "MISS2"], 8)
    problems = info.value.problems
    assert len(problems) == 4
    message = str(info.value)
    expected = {"MISS1": "no features for video MISS1", "MISS2": "no features for video MISS2",
                "WIDE1": "video WIDE1 has shape [3, 16], expected [T >= 1, 8]",
                "NANV1": "video NANV1 has NaN or infinite values in 1 row(s)"}
    for vid, what in expected.items():
        assert what in problems, (vid, problems)
        assert vid in message
    assert "GOOD1" not in message


def test_nested_c3d_layout_and_unreadable_files(tmp_path):
    import numpy as np

    arrays = {"v_abc": np.ones((2, 500))}
    path = write_features(tmp_path / "c3d.hdf5", arrays, layout="c3d")
    assert dl.MANUAL_RESOURCES["activitynet-c3d"].verify(["v_abc"], path) == 1
    with pytest.raises(FeatureFileError, match="is a group, not a"):
        verify_features(path, ["v_abc"], 500)  # the group itself is not the array
    with pytest.raises(FeatureFileError, match="feature file not found"):
        verify_features(tmp_path / "absent.hdf5", ["v_abc"], 500)
    (tmp_path / "text.hdf5").write_text("not hdf5")
    with pytest.raises(FeatureFileError, match="not a readable HDF5 file"):
        verify_features(tmp_path / "text.hdf5", ["v_abc"], 500)


def test_video_ids_are_read_from_every_annotation_format(tmp_path):
    (tmp_path / "sta.txt").write_text("AO8RW 0.0 6.9##a person reads\nAO8RW 1 2##x\nY6R7T 3 4##y\n")
    (tmp_path / "cnm.json").write_text(CNM_JSON)
    (tmp_path / "anet.json").write_text('{"v_a": {"duration": 1}, "v_b": {"duration": 2}}')
    (tmp_path / "charades.csv").write_text("id,subject,length\r\nAO8RW,HR4,30\r\nY6R7T,HR4,20\r\n")
    assert video_ids_from_annotations(tmp_path / "sta.txt") == ["AO8RW", "Y6R7T"]
    assert video_ids_from_annotations(tmp_path / "cnm.json") == ["AO8RW", "Y6R7T"]
    assert video_ids_from_annotations(tmp_path / "anet.json") == ["v_a", "v_b"]
    assert video_ids_from_annotations(tmp_path / "charades.csv") == ["AO8RW", "Y6R7T"]


# --- the command line ---------------------------------------------------------------------------


def test_cli_list_shows_every_resource(capsys):
    assert dl.main(["list"]) == 0
    out = capsys.readouterr().out
    for r in dl.RESOURCES.values():
        assert r.url in out and r.sha256 in out
    for manual in dl.MANUAL_RESOURCES.values():
        assert manual.path in out


def test_cli_get_fetches_the_whole_group(monkeypatch, tmp_path, capsys):
    calls = []

    def fake_download(resource, dest, **kwargs):
        calls.append((resource.name, Path(dest)))
        return Path(dest) / resource.filename

    monkeypatch.setattr(dl, "download", fake_download)
    assert dl.main(["get", "charades-sta", "--dest", str(tmp_path), "--no-progress"]) == 0
    assert [name for name, _ in calls] == list(dl.GROUPS["charades-sta"])
    assert {dest for _, dest in calls} == {tmp_path}


def test_cli_failures_are_one_clean_message(capsys, tmp_path):
    assert dl.main(["get", "no-such-thing"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unknown name 'no-such-thing'") and err.count("\n") == 1
    assert "Traceback" not in err

    assert dl.main(["get", "charades-i3d"]) == 1  # manual: prints the steps, then fails
    captured = capsys.readouterr()
    assert "data/charades-sta/i3d_features.hdf5" in captured.out
    assert "fetched by hand" in captured.err


def test_cli_check_features(tmp_path, capsys):
    import numpy as np

    annotations = tmp_path / "cnm.json"
    annotations.write_text(CNM_JSON)
    arrays = {"AO8RW": np.ones((4, 1024)), "Y6R7T": np.ones((2, 1024))}
    path = write_features(tmp_path / "i3d.hdf5", arrays)
    ok = ["check-features", str(path), "--resource", "charades-i3d"]
    assert dl.main([*ok, "--annotations", str(annotations)]) == 0
    assert "2 videos present" in capsys.readouterr().out
    wrong_dim = ["check-features", str(path), "--dim", "512", "--annotations", str(annotations)]
    assert dl.main(wrong_dim) == 1
    err = capsys.readouterr().err
    assert "video AO8RW has shape [4, 1024], expected [T >= 1, 512]" in err and "video Y6R7T has shape [2, 1024], expected [T >= 1, 512]" in err


def test_extract_member_is_atomic_and_keeps_an_existing_file(tmp_path):
    import zipfile

    archive = tmp_path / "glove.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("glove.6B.300d.txt", "the 0.1 0.2\n")
        zipped.writestr("glove.6B.50d.txt", "the 0.3\n")
    out = dl.extract_member(archive, "glove.6B.300d.txt", tmp_path)
    assert out.read_text() == "the 0.1 0.2\n" and not list(tmp_path.glob("*.part"))
    out.write_text("kept\n")
    assert dl.extract_member(archive, "glove.6B.300d.txt", tmp_path).read_text() == "kept\n"
    assert dl.EXTRACT["glove.6B.zip"] == ("glove.6B.300d.txt",)
