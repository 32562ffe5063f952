"""Fetching and checking the book's data files (cnm_minimal/data/download.py).

No test touches the internet: a small HTTP server on 127.0.0.1, in a thread, serves files the tests make, and
can answer the first requests with an error status. The resources pointing at it are ordinary
:class:`Resource` records, put in the registry with ``monkeypatch`` where the command line must find them.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cnm_minimal.data import download as dl
from cnm_minimal.data.download import (
    ChecksumError,
    DownloadError,
    Member,
    Resource,
    download,
    members,
    video_ids,
)

BODY = random.Random(1234).randbytes(300_000)
BODY_SHA = hashlib.sha256(BODY).hexdigest()
CNM_JSON = '[["AO8RW", 30.1, [0.0, 6.9], "s"], ["Y6R7T", 20.0, [1, 2], "t"]]'
VECTORS = "the 0.1 0.2 0.3\n" * 2000  # the member the book reads
ROOT = Path(__file__).resolve().parents[1]


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, text in files.items():
            zipped.writestr(name, text)
    return buffer.getvalue()


ARCHIVE = zip_of({"glove.6B.300d.txt": VECTORS, "glove.6B.50d.txt": "the 0.3\n"})


class FixtureServer(ThreadingHTTPServer):
    """Serves ``files`` (path -> bytes); answers the first requests with the statuses in ``failures``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FixtureHandler)
        self.files = {"/file.bin": BODY, "/glove.zip": ARCHIVE}
        self.failures: list[int] = []
        self.requests: list[str] = []

    def url(self, path: str = "/file.bin") -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class FixtureHandler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        srv: FixtureServer = self.server
        srv.requests.append(self.path)
        if srv.failures or self.path not in srv.files:
            self.send_error(srv.failures.pop(0) if srv.failures else 404)
            return
        body = srv.files[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = FixtureServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def resource_for(srv: FixtureServer, sha256: str = BODY_SHA, folder: str = "fixture") -> Resource:
    return Resource(
        "fixture", "fixtures", folder, "file.bin", srv.url(), sha256, len(BODY), "seeded random bytes"
    )


def glove_for(srv: FixtureServer, member_sha256: str | None = None) -> Resource:
    return Resource(
        "toy-glove",
        "toy-glove",
        "toy-glove",
        "glove.zip",
        srv.url("/glove.zip"),
        hashlib.sha256(ARCHIVE).hexdigest(),
        len(ARCHIVE),
        "a zip like GloVe's",
        members=(Member("glove.6B.300d.txt", member_sha256),),
    )


# --- fetching ----------------------------------------------------------------------------------------


def test_fresh_download_gives_the_verified_bytes_and_nothing_else(server, tmp_path):
    path = download(resource_for(server), tmp_path / "new" / "dir")
    assert path == tmp_path / "new" / "dir" / "file.bin"
    assert path.read_bytes() == BODY
    assert os.listdir(path.parent) == ["file.bin"]  # pooch's temporary file is gone
    assert server.requests == ["/file.bin"]


def test_wrong_bytes_are_refused_and_nothing_is_left_at_the_final_name(server, tmp_path):
    server.files["/file.bin"] = BODY[:-1] + b"\x00"
    with pytest.raises(ChecksumError) as info:
        download(resource_for(server), tmp_path, retries=0)
    message = str(info.value)
    assert "fixture" in message and BODY_SHA in message
    assert hashlib.sha256(server.files["/file.bin"]).hexdigest() in message
    assert isinstance(info.value, ValueError)
    assert os.listdir(tmp_path) == []


def test_file_already_there_with_the_right_hash_is_not_fetched_again(server, tmp_path):
    (tmp_path / "file.bin").write_bytes(BODY)
    assert download(resource_for(server), tmp_path) == tmp_path / "file.bin"
    assert server.requests == []


def test_file_already_there_with_another_hash_is_left_untouched(server, tmp_path):
    mine = b"my own notes, not the data set\n" * 10_000
    (tmp_path / "file.bin").write_bytes(mine)
    with pytest.raises(ChecksumError) as info:
        download(resource_for(server), tmp_path)
    message = str(info.value)
    assert str(tmp_path / "file.bin") in message and "move it away" in message
    assert BODY_SHA in message and hashlib.sha256(mine).hexdigest() in message
    assert (tmp_path / "file.bin").read_bytes() == mine
    assert server.requests == []


def test_a_transient_failure_is_retried(server, tmp_path):
    server.failures = [503]
    path = download(resource_for(server), tmp_path, retries=1)
    assert server.requests == ["/file.bin", "/file.bin"]
    assert path.read_bytes() == BODY


def test_failures_on_every_attempt_are_a_download_error(server, tmp_path):
    server.failures = [503]
    with pytest.raises(DownloadError) as info:
        download(resource_for(server), tmp_path, retries=0)
    message = str(info.value)
    assert "503" in message and server.url() in message and "1 attempt(s)" in message
    assert os.listdir(tmp_path) == []


def test_progress_bar_does_not_change_the_result(server, tmp_path):
    assert download(resource_for(server), tmp_path, progress=True).read_bytes() == BODY


# --- extraction --------------------------------------------------------------------------------------


def test_members_are_extracted_verified_and_rechecked_every_time(server, tmp_path):
    glove = glove_for(server)
    archive = download(glove, tmp_path)
    target = tmp_path / "glove.6B.300d.txt"
    assert members(glove, tmp_path) == {target: "missing"}
    assert members(glove, tmp_path, repair=True) == {target: "missing"}  # what it was before
    assert target.read_text() == VECTORS
    assert members(glove, tmp_path) == {target: None}
    assert sorted(os.listdir(tmp_path)) == sorted(
        [archive.name, target.name]
    )  # no temporary file, no other member

    target.write_text(VECTORS[:1000])  # a truncated extraction
    problem = members(glove, tmp_path)[target]
    assert problem == f"1,000 bytes, expected {len(VECTORS):,} (truncated, or another file)"
    assert members(glove, tmp_path, repair=True) == {target: problem}
    assert target.read_text() == VECTORS and members(glove, tmp_path) == {target: None}

    archive.unlink()  # nothing left to check the size with
    assert "cannot be checked" in members(glove, tmp_path)[target]


def test_a_member_with_a_known_hash_is_checked_by_it(server, tmp_path):
    glove = glove_for(server, hashlib.sha256(VECTORS.encode()).hexdigest())
    download(glove, tmp_path)
    target = tmp_path / "glove.6B.300d.txt"
    members(glove, tmp_path, repair=True)
    target.write_text("X" + VECTORS[1:])  # right size, wrong bytes
    assert members(glove, tmp_path)[target].startswith("SHA-256 ")
    members(glove, tmp_path, repair=True)
    assert target.read_text() == VECTORS


def test_a_member_that_extracts_to_other_bytes_never_reaches_its_name(server, tmp_path):
    glove = glove_for(server, "0" * 64)
    download(glove, tmp_path)
    with pytest.raises(ChecksumError, match="glove.6B.300d.txt came out of"):
        members(glove, tmp_path, repair=True)
    assert sorted(os.listdir(tmp_path)) == ["glove.zip"]


# --- the registry ------------------------------------------------------------------------------------


def test_registry_keeps_every_file_pinned_with_its_size():
    resources = list(dl.RESOURCES.values())
    assert len(resources) == 11
    for r in resources:
        assert re.fullmatch(r"[0-9a-f]{64}", r.sha256) and r.url.startswith("https://") and r.size > 0, r.name
    assert len({r.filename for r in resources}) == len({r.sha256 for r in resources}) == len(resources)
    charades = {r.filename for r in resources if r.group == "charades-sta"}
    assert {"charades_sta_train.txt", "charades_sta_test.txt", "cnm_train.json", "cnm_test.json"} <= charades
    cd = {r.name: r.filename for r in resources if r.group == "charades-cd"}
    assert cd == {
        "charades-cd-train": "charades_train.json",
        "charades-cd-val": "charades_val.json",
        "charades-cd-test-iid": "charades_test_iid.json",
        "charades-cd-test-ood": "charades_test_ood.json",
    }
    glove = dl.RESOURCES["glove-6b"]
    assert (glove.folder, glove.size, glove.sha256[:16]) == ("glove", 862_182_613, "617afb2fe6cbd085")
    assert glove.members == (Member("glove.6B.300d.txt", None),)
    assert all(r.licence for r in resources)


def test_resource_rejects_malformed_entries():
    good = dict(
        name="x",
        group="x",
        folder="x",
        filename="a",
        url="https://example.org/a",
        sha256="0" * 64,
        size=1,
        description="",
    )
    Resource(**good)
    for change, match in [
        ({"sha256": "abc"}, "sha256"),
        ({"filename": "../a"}, "bare file name"),
        ({"url": "ftp://example.org/a"}, "http"),
        ({"members": (Member("m", "xyz"),)}, "sha256"),
    ]:
        with pytest.raises(ValueError, match=match):
            Resource(**{**good, **change})


def test_manual_resources_explain_the_steps_and_the_path(monkeypatch):
    monkeypatch.setenv("CNM_DATA", "/somewhere/data")
    manual = dl.MANUAL_RESOURCES
    assert (manual["charades-i3d"].path, manual["charades-i3d"].dim) == (
        "charades-sta/i3d_features.hdf5",
        1024,
    )
    assert (manual["activitynet-c3d"].dim, manual["activitynet-c3d"].layout) == (500, "c3d")
    assert manual["activitynet-clip"].dim == 512
    for m in manual.values():
        text = m.how_to_get()
        assert m.path in text and "no checksum" in text and "check-features" in text and m.licence in text


# --- the command line --------------------------------------------------------------------------------


@pytest.fixture
def registry(server, tmp_path, monkeypatch):
    """The loopback resources in the registry, the working directory in ``tmp_path`` and the data root its
    ``data/``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CNM_DATA", "data")
    for resource in (resource_for(server), glove_for(server)):
        monkeypatch.setitem(dl.RESOURCES, resource.name, resource)
    return dl.RESOURCES


def one_error_line(err: str) -> str:
    """Pooch may log progress lines first; the failure itself is one ``error:`` line, and no traceback."""
    assert "Traceback" not in err and err.count("error:") == 1
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: ")
    return line


def test_cli_list_shows_every_file_and_its_state_on_disk(registry, capsys):
    assert dl.main(["list"]) == 0
    out = capsys.readouterr().out
    for r in registry.values():
        assert r.url in out and r.sha256 in out and r.licence in out
    for manual in dl.MANUAL_RESOURCES.values():
        assert manual.path in out
    assert (
        "Data root: data" in out
        and "data/toy-glove/glove.zip" in out
        and "[missing]" in out
        and "checked by its size in the zip" in out
    )

    assert dl.main(["get", "toy-glove", "--no-progress"]) == 0
    Path("data/toy-glove/glove.6B.300d.txt").write_text("the 0.1\n")
    capsys.readouterr()
    assert dl.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("toy-glove: data/toy-glove/glove.zip" in line and line.endswith("[ok]") for line in lines)
    assert any("glove.6B.300d.txt" in line and "[BAD: 8 bytes, expected" in line for line in lines)


def test_cli_get_fetches_a_group_and_repairs_a_truncated_member(registry, capsys):
    assert dl.main(["get", "toy-glove", "--no-progress"]) == 0
    target = Path("data/toy-glove/glove.6B.300d.txt")
    assert target.read_text() == VECTORS
    assert capsys.readouterr().out.count("ok  ") == 2
    target.write_text(VECTORS[:10])
    assert dl.main(["get", "toy-glove", "--no-progress"]) == 0
    assert "re-extracted: it was 10 bytes" in capsys.readouterr().out
    assert target.read_text() == VECTORS

    assert dl.main(["get", "fixtures", "--dest", "elsewhere", "--no-progress"]) == 0
    assert Path("elsewhere/file.bin").read_bytes() == BODY


def test_cli_failures_are_one_line_with_exit_code_2(registry, server, capsys):
    assert dl.main(["get", "no-such-thing"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: unknown name 'no-such-thing'; choose one of: charades-sta,")
        and err.count("\n") == 1
    )

    assert dl.main(["get", "charades-i3d"]) == 2  # manual: prints the steps, then fails
    captured = capsys.readouterr()
    assert "data/charades-sta/i3d_features.hdf5" in captured.out
    assert one_error_line(captured.err) == "error: charades-i3d must be fetched by hand (the steps are above)"

    assert dl.main(["how-to", "charades-i3d"]) == 0
    assert "pan.baidu.com" in capsys.readouterr().out
    assert dl.main(["how-to", "nope"]) == 2
    assert "unknown manual resource 'nope'" in one_error_line(capsys.readouterr().err)

    server.files["/file.bin"] = b"other bytes"
    assert dl.main(["get", "fixture", "--retries", "0", "--no-progress"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "fixture" in line and "Nothing was written to" in line
    assert not Path("data/fixture/file.bin").exists()


def test_the_package_entry_point_runs_the_download_command():
    run = subprocess.run(
        [sys.executable, "-m", "cnm_minimal", "download", "how-to", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert (
        run.returncode == 2 and run.stderr.startswith("error: unknown manual resource") and run.stdout == ""
    )


# --- hand-fetched feature files ------------------------------------------------------------------------


def write_features(path: Path, arrays: dict, layout: str = "flat") -> Path:
    from cnm_minimal.data.features import write_features as write

    write(path, arrays, layout=layout)
    return path


def test_cli_check_features_uses_the_trainers_check(tmp_path, capsys):
    import numpy as np

    annotations = tmp_path / "cnm.json"
    annotations.write_text(CNM_JSON)
    bad = np.ones((4, 1024))
    bad[1, 2] = np.nan
    path = write_features(tmp_path / "i3d.hdf5", {"AO8RW": np.ones((4, 1024)), "Y6R7T": np.ones((2, 1024))})
    ok = ["check-features", str(path), "--resource", "charades-i3d", "--annotations", str(annotations)]
    assert dl.main(ok) == 0
    assert "2 videos present, width 1024" in capsys.readouterr().out

    assert dl.main(["check-features", str(path), "--dim", "512", "--annotations", str(annotations)]) == 2
    captured = capsys.readouterr()
    assert "video AO8RW has shape [4, 1024], expected [T >= 1, 512]" in captured.out
    assert "video Y6R7T has shape [2, 1024], expected [T >= 1, 512]" in captured.out
    assert "2 of 2 annotated video(s) have unusable features" in one_error_line(captured.err)

    write_features(path, {"AO8RW": bad})
    assert dl.main(ok) == 2
    captured = capsys.readouterr()
    assert "no features for video Y6R7T" in captured.out
    assert "video AO8RW has NaN or infinite values in 1 row(s)" in captured.out
    assert "how-to charades-i3d" in one_error_line(captured.err)

    assert dl.main([*ok[:1], str(tmp_path / "absent.hdf5"), *ok[2:]]) == 2
    assert "feature file not found" in one_error_line(capsys.readouterr().err)
    assert dl.main(["check-features", str(path), "--annotations", str(annotations)]) == 2
    assert "give --dim" in one_error_line(capsys.readouterr().err)


def test_cli_check_features_reads_the_c3d_layout(tmp_path, capsys):
    import numpy as np

    (tmp_path / "anet.json").write_text(
        '{"v_abc": {"duration": 10, "timestamps": [[1, 2]], "sentences": ["x"]}}'
    )
    path = write_features(tmp_path / "c3d.hdf5", {"v_abc": np.ones((2, 500))}, layout="c3d")
    command = ["check-features", str(path), "--annotations", str(tmp_path / "anet.json")]
    assert dl.main([*command, "--resource", "activitynet-c3d"]) == 0
    assert dl.main([*command, "--dim", "500"]) == 2  # flat layout: the group itself is not the array
    assert "is a group, not a [T, D] dataset" in capsys.readouterr().out


def test_video_ids_come_from_the_annotation_readers(tmp_path):
    (tmp_path / "sta.txt").write_text("AO8RW 0.0 6.9##a person reads\nAO8RW 1 2##x\nY6R7T 3 4##y\n")
    (tmp_path / "Charades_v1_train.csv").write_text("id,subject,length\r\nAO8RW,HR4,30\r\nY6R7T,HR4,20\r\n")
    (tmp_path / "cnm.json").write_text(CNM_JSON)
    (tmp_path / "anet.json").write_text(
        '{"v_a": {"duration": 5, "timestamps": [[1, 2]], "sentences": ["x"]},'
        ' "v_b": {"duration": 9, "timestamps": [[0, 3]], "sentences": ["y"]}}'
    )
    assert video_ids(tmp_path / "sta.txt") == ["AO8RW", "Y6R7T"]  # durations: the Charades CSV next to it
    assert video_ids(tmp_path / "cnm.json") == ["AO8RW", "Y6R7T"]
    assert video_ids(tmp_path / "anet.json") == ["v_a", "v_b"]
    assert video_ids(tmp_path / "Charades_v1_train.csv") == ["AO8RW", "Y6R7T"]
    (tmp_path / "Charades_v1_train.csv").rename(tmp_path / "lengths.csv")
    with pytest.raises(ValueError, match="--durations"):
        video_ids(tmp_path / "sta.txt")
    assert video_ids(tmp_path / "sta.txt", [tmp_path / "lengths.csv"]) == ["AO8RW", "Y6R7T"]
