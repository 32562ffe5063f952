"""Fetch chapter 2's public files safely; check the feature files that must be fetched by hand.

Two kinds of input files feed the book:

* **Scriptable files** (:class:`Resource`): the Charades-STA annotations, CNM's filtered split of
  them and the GloVe 6B word vectors. Each has a fixed URL and a pinned SHA-256, so
  :func:`download` can fetch it and *prove* that the bytes on disk are the bytes the book was
  written against.
* **Manual files** (:class:`ManualResource`): the pre-extracted video features (Charades-STA I3D,
  ActivityNet Captions C3D and CLIP). They live on Baidu Netdisk / Google Drive style share links
  that no script can follow reliably, and nobody published a checksum of them. For those we print
  the manual steps (:meth:`ManualResource.how_to_get`) and check the file's *structure* instead of
  its hash (:func:`verify_features`).

The rules :func:`download` follows, in the order it applies them:

1. A final file that is already there and has the right SHA-256 is returned at once: no network.
2. A final file that is there with the *wrong* hash is never touched: :class:`ChecksumError`
   tells you to move it away. Your data is never silently replaced.
3. Bytes arrive in ``<filename>.part``. If a ``.part`` is left over from an interrupted run, the
   transfer resumes with an HTTP ``Range: bytes=<size>-`` request: ``206 Partial Content`` means
   "here is the rest" (we append), ``200 OK`` means the server ignored the range (we start over),
   ``416 Range Not Satisfiable`` means there is nothing left to send (we go check the hash).
4. A connection that drops mid-transfer keeps the ``.part`` and is retried, resuming each time.
5. Only a ``.part`` whose SHA-256 matches is renamed onto the final name, with :func:`os.replace`,
   which is atomic: a final file is either absent or complete and verified. A ``.part`` with the
   wrong hash is deleted and :class:`ChecksumError` is raised.

Command line (run from the project root)::

    python -m cnm_minimal.data.download list
    python -m cnm_minimal.data.download get charades-sta [--dest data/charades-sta]
    python -m cnm_minimal.data.download get glove-6b [--dest data/glove]
    python -m cnm_minimal.data.download how-to charades-i3d
    python -m cnm_minimal.data.download check-features data/charades-sta/i3d_features.hdf5 \\
        --resource charades-i3d --annotations data/charades-sta/cnm_train.json

Only the standard library is used; ``tqdm`` (progress bar), ``h5py`` and ``numpy`` (feature
checks) are imported lazily, when they are needed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import http.client
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class ChecksumError(ValueError):
    """A file's SHA-256 differs from the pinned one (a wrong final file, or a corrupt download)."""


class DownloadError(RuntimeError):
    """A transfer failed (network gone, HTTP error, retries exhausted)."""


class SizeMismatchError(DownloadError):
    """The server announced or sent a different number of bytes than the registry expects."""


class FeatureFileError(ValueError):
    """A hand-fetched feature file failed its structural checks.

    ``problems`` holds every problem found (one string each); the message lists them all, so one
    run of the check tells you everything that is wrong.
    """

    def __init__(self, path: str | os.PathLike, problems: Sequence[str], max_listed: int = 50):
        self.path = Path(path)
        self.problems = list(problems)
        shown = self.problems[:max_listed]
        lines = [f"{self.path}: {len(self.problems)} problem(s) found:"]
        lines += [f"  - {problem}" for problem in shown]
        if len(self.problems) > len(shown):
            lines.append(f"  ... and {len(self.problems) - len(shown)} more")
        super().__init__("\n".join(lines))


# Failures after which resuming makes sense: the bytes already on disk are still good.
_TRANSIENT_ERRORS = (
    http.client.IncompleteRead,  # the body ended before Content-Length was reached
    http.client.HTTPException,  # RemoteDisconnected, BadStatusLine, ...
    ConnectionError,  # reset / aborted / refused
    TimeoutError,  # socket timeout (socket.timeout is an alias since Python 3.10)
    urllib.error.URLError,  # DNS failure, connection refused (HTTPError is handled first)
)
_RETRYABLE_HTTP_STATUS = {408, 429, 500, 502, 503, 504}

_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_USER_AGENT = "cnm-minimal-downloader/0.1 (educational; python urllib)"


# --------------------------------------------------------------------------------------------
# What can be fetched
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """One file that a script can fetch and verify.

    ``sha256`` is the lowercase hex SHA-256 of the exact bytes expected. It may be ``None`` for a
    file nobody has pinned yet; :func:`download` then refuses to fetch it unless you pass
    ``allow_unpinned=True`` (and it prints the hash it measured, so that you can pin it).
    ``filename`` is a bare file name: where it goes is the caller's choice (``dest_dir``).
    ``size`` (bytes), when known, lets a download fail early if the server sends a different file.
    """

    name: str
    url: str
    sha256: str | None
    filename: str
    size: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a Resource needs a name")
        if not self.url.startswith(("https://", "http://")):
            raise ValueError(f"{self.name}: url must be http(s), got {self.url!r}")
        if self.sha256 is not None and not _SHA256_RE.fullmatch(self.sha256):
            raise ValueError(f"{self.name}: sha256 must be 64 lowercase hex digits or None")
        bare = bool(self.filename) and Path(self.filename).name == self.filename
        if not bare or self.filename in {".", ".."}:
            raise ValueError(f"{self.name}: filename must be a bare file name: {self.filename!r}")
        if self.size is not None and self.size <= 0:
            raise ValueError(f"{self.name}: size must be a positive number of bytes")


@dataclass(frozen=True)
class ManualResource:
    """A feature file that must be fetched by hand, checked by structure instead of by hash.

    The file is HDF5 with one ``[T, dim]`` float array per video. ``layout`` says where a video's
    array lives (see :class:`~cnm_minimal.data.features.FeatureStore`): ``"flat"`` (a dataset named
    after the video id) or, for the official ActivityNet C3D file, ``"c3d"`` (a group per video
    holding one dataset ``c3d_features``).
    ``path`` is where the book expects the file, relative to the project root.
    """

    name: str
    path: str
    dim: int
    instructions: str
    layout: str = "flat"
    description: str = ""

    @property
    def filename(self) -> str:
        """The bare file name (the last component of :attr:`path`)."""
        return Path(self.path).name

    def how_to_get(self) -> str:
        """The exact manual steps, ending with the path the file must be saved at."""
        check = (
            f"python -m cnm_minimal.data.download check-features {self.path} "
            f"--resource {self.name} --annotations <annotation file>"
        )
        return (
            f"{self.name}: {self.description}\n"
            f"No script can fetch this file, and no checksum of it is published.\n"
            f"{self.instructions.strip()}\n"
            f"Save it as:   {self.path}\n"
            f"Then check:   {check}\n"
            f"(the check opens the file and looks for every video id of the annotations, "
            f"a width of {self.dim} and finite values)"
        )

    def verify(self, video_ids: Iterable[str], path: str | os.PathLike | None = None) -> int:
        """Check the file at ``path`` (default: :attr:`path`) with :func:`verify_features`."""
        return verify_features(path or self.path, video_ids, self.dim, layout=self.layout)


_2DTAN = "https://raw.githubusercontent.com/microsoft/2D-TAN/master/data/Charades-STA/"
# CNM commit 5ccb192 in full; a commit in a raw URL never moves, unlike a branch name.
_CNM = (
    "https://raw.githubusercontent.com/minghangz/cnm/"
    "5ccb192fa21691705fe07bfea4d95757cef2e3b9/data/charades/"
)

# The hashes of the six Charades-STA files were measured on the real files (the copies in the
# book's reference data, collected from the repositories above).
RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource(
            "charades-sta-train", _2DTAN + "charades_sta_train.txt",
            "47ec9b6b488fca753373d9cc29b07a959f7237a922cb29463cd088cd6198e805",
            "charades_sta_train.txt", 622_491,
            "Charades-STA train queries, `VID start end##sentence` (12,408 lines)",
        ),
        Resource(
            "charades-sta-test", _2DTAN + "charades_sta_test.txt",
            "fab341679c20b0917173dcffffde367a71113fe63f3a645558cef2ebfbfefb55",
            "charades_sta_test.txt", 186_686,
            "Charades-STA test queries (3,720 lines)",
        ),
        Resource(
            "charades-v1-train", _2DTAN + "Charades_v1_train.csv",
            "59273c6dc2139ec7eb95b980fd26bc8529774b1ede0602f6ca90b546ed12f0fc",
            "Charades_v1_train.csv", 3_622_045,
            "official Charades train annotations (video lengths in column `length`)",
        ),
        Resource(
            "charades-v1-test", _2DTAN + "Charades_v1_test.csv",
            "8b8b207b55fb95b949018027f69d83bd46cd844d15834f8f592ee8e7446173eb",
            "Charades_v1_test.csv", 1_173_833,
            "official Charades test annotations",
        ),
        Resource(
            "cnm-charades-train", _CNM + "train.json",
            "396fafa7dc6df850a888be43f4bf4b68ee598dc1439f3dd3d1fcdbf3114d2be6",
            "cnm_train.json", 721_705,
            "CNM's filtered train split, [vid, duration, [start, end], sentence] (10,602 queries)",
        ),
        Resource(
            "cnm-charades-test", _CNM + "test.json",
            "bc515382dafa093df67479a37a3e90f22d7da968405c49bac4c82a498b44567a",
            "cnm_test.json", 215_048,
            "CNM's filtered test split (3,158 queries)",
        ),
        # GloVe 6B (Wikipedia 2014 + Gigaword 5, 400k uncased words; 50/100/200/300-d inside).
        # The server redirects to downloads.cs.stanford.edu, which urllib follows.
        # SHA-256 pin, found published in: JuliaText/Embeddings.jl, src/glove.jl (its DataDeps
        # registration of "glove.6B"), the same value as the Git LFS pointer of glove.6B.zip in the
        # Hugging Face repository kcz358/glove and as pins in several other public projects.
        # The size, 862,182,613 bytes, is the Content-Length that Stanford's server announces
        # (wget logs in many public notebooks, e.g. keras-io's pretrained word embeddings example).
        Resource(
            "glove-6b", "https://nlp.stanford.edu/data/glove.6B.zip",
            "617afb2fe6cbd085c235baf7a465b96f4112bd7f7ccb2b2cbd649fed9cbcf2fb",
            "glove.6B.zip", 862_182_613,
            "GloVe 6B word vectors, a zip of 4 text files (about 822 MiB)",
        ),
    )
}

GROUPS: dict[str, tuple[str, ...]] = {
    "charades-sta": (
        "charades-sta-train", "charades-sta-test", "charades-v1-train", "charades-v1-test",
        "cnm-charades-train", "cnm-charades-test",
    ),
    "glove-6b": ("glove-6b",),
}
"""Names that ``get`` accepts for several files at once."""

DEFAULT_DEST: dict[str, str] = {"charades-sta": "data/charades-sta", "glove-6b": "data/glove"}
"""Where ``get`` puts a group when ``--dest`` is not given (relative to the working directory)."""

_LINK_MAY_BE_DEAD = (
    "Feature share links like the one below are known to expire (users report dead links), and "
    "this book cannot check it for you: it may no longer work."
)

MANUAL_RESOURCES: dict[str, ManualResource] = {
    r.name: r
    for r in (
        ManualResource(
            "charades-i3d", "data/charades-sta/i3d_features.hdf5", 1024,
            f"""{_LINK_MAY_BE_DEAD}
  1. Open the CNM README, section "Data Preparation": https://github.com/minghangz/cnm
     It links a Baidu Netdisk share (https://pan.baidu.com/s/1_JiOUG3FKkKXij-0kVfkuA, access
     code ryeh) holding CNM's data folder.
  2. From it take charades/i3d_features.hdf5 (I3D features from the LGI repository,
     JonghwanMun/LGI4temporalgrounding, which CNM converted from .npy to HDF5).
  3. Create the folder data/charades-sta/ and move the file there under the name below.""",
            description="Charades-STA I3D features (CNM): HDF5, a [T, 1024] dataset per video",
        ),
        ManualResource(
            "activitynet-c3d", "data/activitynet/c3d_features.hdf5", 500,
            """CNM's README points to the ActivityNet 2016 challenge page for these features; that
page may have moved since.
  1. Open the ActivityNet 2016 challenge download page:
     http://activity-net.org/challenges/2016/download.html
  2. Download the C3D features (the HDF5 file, PCA-reduced to 500 dimensions; each video id
     "v_..." is a group holding one dataset "c3d_features").
  3. Create the folder data/activitynet/ and save the file there under the name below.""",
            layout="c3d",
            description="ActivityNet Captions C3D features: HDF5, per video c3d_features [T, 500]",
        ),
        ManualResource(
            "activitynet-clip", "data/activitynet/clip_vit_32_features.hdf5", 512,
            f"""{_LINK_MAY_BE_DEAD}
  1. Open the CNM README, section "Data Preparation": https://github.com/minghangz/cnm
     and its Baidu Netdisk share (https://pan.baidu.com/s/1_JiOUG3FKkKXij-0kVfkuA, code ryeh).
  2. From it take activitynet/clip_vit_32_features.hdf5 (CLIP image features, one vector
     every 8 frames).
  3. Create the folder data/activitynet/ and save the file there under the name below.""",
            description="ActivityNet Captions CLIP features (CNM): HDF5, [T, 512] per video",
        ),
    )
}


# --------------------------------------------------------------------------------------------
# Hashing
# --------------------------------------------------------------------------------------------


def sha256_of(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """The lowercase hex SHA-256 of a file, read in chunks (works for files larger than memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _check_existing(resource: Resource, final: Path) -> Path:
    """Return ``final`` if its hash is right; otherwise raise without touching it."""
    actual = sha256_of(final)
    if resource.sha256 is None:
        print(f"{final}: exists; SHA-256 {actual} (unpinned resource, nothing to compare with)")
        return final
    if actual != resource.sha256:
        raise ChecksumError(
            f"{final} already exists but its SHA-256 is {actual}, expected {resource.sha256}. "
            f"It was left untouched: move it away (or delete it) and run again for a fresh copy."
        )
    return final


# --------------------------------------------------------------------------------------------
# One HTTP transfer
# --------------------------------------------------------------------------------------------


def _parse_content_range(value: str | None) -> tuple[int, int | None]:
    """``"bytes 100-299/300"`` -> ``(100, 300)``; the total is ``None`` for ``*``."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value or "")
    if match is None:
        raise DownloadError(f"206 response with an unreadable Content-Range header: {value!r}")
    total = None if match[3] == "*" else int(match[3])
    return int(match[1]), total


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.strip().isdigit() else None


def _size_mismatch(resource: Resource, part: Path, announced: int) -> SizeMismatchError:
    """Build the error for a server that announces a different file size (and drop our .part)."""
    part.unlink(missing_ok=True)
    return SizeMismatchError(
        f"{resource.url}: the server announces {announced} bytes but the registry expects "
        f"{resource.size}; the file on the server changed or the URL is wrong. Nothing was kept."
    )


def _progress_bar(enabled: bool, total: int | None, initial: int, label: str):
    """A tqdm bar when asked for and available, else an object whose methods do nothing."""
    if enabled:
        try:
            from tqdm import tqdm  # lazy: tqdm is optional
        except ImportError:
            pass
        else:
            return tqdm(total=total, initial=initial, unit="B", unit_scale=True, desc=label)

    class _Silent:
        def update(self, n: int) -> None:
            pass

        def close(self) -> None:
            pass

    return _Silent()


def _transfer(
    resource: Resource, part: Path, *, chunk_size: int, timeout: float, progress: bool
) -> str:
    """Bring ``part`` as far as the server lets us in one HTTP request.

    Returns ``"complete"`` when the body was received in full, or ``"nothing-left"`` when the
    server answered 416 to our range request (the ``.part`` may already be complete).
    Raises one of ``_TRANSIENT_ERRORS`` when the connection breaks (the ``.part`` keeps what
    arrived), :class:`SizeMismatchError` or :class:`DownloadError` for anything else.
    """
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(resource.url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            return "nothing-left"
        raise

    with response:
        if response.status == 206:
            start, total = _parse_content_range(response.headers.get("Content-Range"))
            if start != offset:
                raise DownloadError(f"{resource.url}: asked for bytes {offset}- but got {start}-")
            if resource.size is not None and total is not None and total != resource.size:
                raise _size_mismatch(resource, part, total)
            mode, expected_total = "ab", total if total is not None else resource.size
        elif response.status == 200:
            offset = 0  # no range (or the server ignored ours): the body is the whole file
            length = _content_length(response)
            if resource.size is not None and length is not None and length != resource.size:
                raise _size_mismatch(resource, part, length)
            mode, expected_total = "wb", length if length is not None else resource.size
        else:
            raise DownloadError(f"{resource.url}: unexpected HTTP status {response.status}")

        received = offset
        bar = _progress_bar(progress, expected_total, offset, resource.filename)
        try:
            with open(part, mode) as handle:  # "wb" truncates: a restart from zero
                while chunk := response.read(chunk_size):
                    if expected_total is not None and received + len(chunk) > expected_total:
                        handle.close()
                        part.unlink(missing_ok=True)
                        raise SizeMismatchError(
                            f"{resource.url}: the server sent more than the expected "
                            f"{expected_total} bytes; the partial file was deleted."
                        )
                    handle.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        finally:
            bar.close()

    if expected_total is not None and received < expected_total:
        # urllib returns b"" on a premature end of body instead of raising; make it an error.
        raise http.client.IncompleteRead(b"", expected_total - received)
    return "complete"


# --------------------------------------------------------------------------------------------
# The download loop
# --------------------------------------------------------------------------------------------


def download(
    resource: Resource,
    dest_dir: str | os.PathLike,
    *,
    chunk_size: int = 1 << 20,
    timeout: float = 60,
    retries: int = 3,
    progress: bool = False,
    allow_unpinned: bool = False,
    retry_wait: float = 2.0,
) -> Path:
    """Fetch ``resource`` into ``dest_dir`` and return the path of the verified file.

    See the module docstring for the full set of rules. In short: an already verified file costs
    no network request; a final file with the wrong hash is never overwritten (raises
    :class:`ChecksumError`); bytes go to ``<filename>.part`` and an interrupted transfer resumes
    with an HTTP Range request, up to ``retries`` times (waiting ``retry_wait * attempt``
    seconds in between); the ``.part`` becomes the final file, atomically, only when its SHA-256
    matches.

    A resource without a pinned hash (``sha256=None``) is refused unless ``allow_unpinned=True``;
    then the file is kept without a comparison and its measured SHA-256 is printed so that you can
    pin it.

    Raises :class:`ChecksumError` (a ``ValueError``) for a hash mismatch, :class:`SizeMismatchError`
    when the server's size contradicts ``resource.size``, and :class:`DownloadError` for HTTP
    errors and when the retries are exhausted (the ``.part`` is then kept: rerun to resume).
    """
    if resource.sha256 is None and not allow_unpinned:
        raise ValueError(
            f"{resource.name} has no pinned SHA-256, so its content cannot be verified. Pass "
            f"allow_unpinned=True (command line: --allow-unpinned) to fetch it anyway; the hash "
            f"measured will be printed so that you can pin it."
        )
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / resource.filename
    if final.exists():
        return _check_existing(resource, final)

    part = dest / (resource.filename + ".part")
    if part.exists() and resource.size is not None and part.stat().st_size > resource.size:
        part.unlink()  # longer than the whole file: it cannot be a prefix of it
    failures, restarted = 0, False
    while True:
        if part.exists() and resource.size is not None and part.stat().st_size == resource.size:
            outcome = "nothing-left"  # every byte is here already: just verify
        else:
            try:
                outcome = _transfer(
                    resource, part, chunk_size=chunk_size, timeout=timeout, progress=progress
                )
            except urllib.error.HTTPError as error:
                if error.code not in _RETRYABLE_HTTP_STATUS:
                    message = f"{resource.url}: HTTP {error.code} {error.reason}"
                    raise DownloadError(message) from error
                failures = _count_failure(resource, part, error, failures, retries, retry_wait)
                continue
            except _TRANSIENT_ERRORS as error:
                failures = _count_failure(resource, part, error, failures, retries, retry_wait)
                continue

        actual = sha256_of(part)
        if resource.sha256 is None or actual == resource.sha256:
            return _promote(part, final, actual, pinned=resource.sha256 is not None)
        part.unlink()
        if outcome == "nothing-left" and not restarted:
            restarted = True  # the leftover .part was not a prefix of this file: restart once
            continue
        raise ChecksumError(
            f"{resource.url}: the downloaded bytes have SHA-256 {actual}, expected "
            f"{resource.sha256}. The partial file was deleted; the server may serve a different "
            f"version of the file, or the transfer was corrupted."
        )


def _count_failure(
    resource: Resource,
    part: Path,
    error: BaseException,
    failures: int,
    retries: int,
    retry_wait: float,
) -> int:
    """Record one failed attempt; sleep before the next one, or raise once ``retries`` are spent."""
    failures += 1
    if failures > retries:
        if part.exists():
            advice = (
                f"The partial file {part} ({part.stat().st_size} bytes) was kept; "
                f"rerun the same command to resume."
            )
        else:
            advice = "No bytes arrived; check the URL and your connection, then rerun."
        raise DownloadError(
            f"{resource.url}: giving up after {failures} attempt(s) "
            f"({type(error).__name__}: {error}). {advice}"
        ) from error
    time.sleep(retry_wait * failures)
    return failures


def _promote(part: Path, final: Path, digest: str, *, pinned: bool) -> Path:
    """Atomically rename a verified ``.part`` onto ``final`` (never over an existing file)."""
    if final.exists():
        raise FileExistsError(
            f"{final} appeared while downloading; it was left untouched and the verified copy "
            f"remains at {part}."
        )
    os.replace(part, final)
    if not pinned:
        print(f"{final}: SHA-256 {digest} (unpinned: put this value in the registry to pin it)")
    return final


# --------------------------------------------------------------------------------------------
# Checking hand-fetched feature files
# --------------------------------------------------------------------------------------------


def video_ids_from_annotations(path: str | os.PathLike) -> list[str]:
    """The distinct video ids of an annotation file, in first-seen order.

    Understands Charades-STA ``.txt`` (``VID start end##sentence``), the Charades ``.csv`` (column
    ``id``), CNM's ``.json`` lists (``[vid, duration, [start, end], sentence]``) and ``.json``
    dicts keyed by video id (ActivityNet Captions).
    """
    path = Path(path)
    ids: list[str] = []
    if path.suffix == ".txt":
        ids = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    elif path.suffix == ".csv":
        with open(path, newline="") as handle:
            ids = [row["id"] for row in csv.DictReader(handle)]
    elif path.suffix == ".json":
        data = json.loads(path.read_text())
        if isinstance(data, dict):
            ids = list(data)
        else:
            ids = [item[0] if isinstance(item, (list, tuple)) else item["video"] for item in data]
    else:
        raise ValueError(f"{path}: unknown annotation format (expected .txt, .csv or .json)")
    return list(dict.fromkeys(str(vid) for vid in ids))


def verify_features(path: str | os.PathLike, video_ids: Iterable[str], dim: int, *, layout: str = "flat") -> int:
    """Check a hand-fetched HDF5 feature file by its structure; return the number of videos checked.

    Every video id must have a ``[T >= 1, dim]`` array holding only finite numbers. This is the
    check :class:`~cnm_minimal.data.features.FeatureStore` makes before training, plus a read of
    every array (the only way to find NaN or infinite values; it takes a while on a full data set).
    One :class:`FeatureFileError` lists every problem found.
    """
    from cnm_minimal.data.features import FeatureError, FeatureStore   # lazy: imports h5py

    ids = list(dict.fromkeys(video_ids))
    try:
        store = FeatureStore(path, layout=layout)
    except FeatureError as error:
        raise FeatureFileError(path, [str(error).removeprefix(f"{Path(path)}: ")]) from None
    try:
        problems = store.problems(ids, dim, read_values=True)
    finally:
        store.close()
    if problems:
        raise FeatureFileError(path, problems)
    return len(ids)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _format_size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""  # unreachable


def _cmd_list(args: argparse.Namespace) -> int:
    print("Scriptable files (python -m cnm_minimal.data.download get NAME):")
    for group, names in GROUPS.items():
        print(f"\n[{group}] default --dest {DEFAULT_DEST[group]}")
        for name in names:
            r = RESOURCES[name]
            print(f"  {r.name}: {r.filename} ({_format_size(r.size)}) - {r.description}")
            print(f"      url    {r.url}")
            print(f"      sha256 {r.sha256 or 'NOT PINNED (needs --allow-unpinned)'}")
    print("\nFiles to fetch by hand (python -m cnm_minimal.data.download how-to NAME):")
    for r in MANUAL_RESOURCES.values():
        print(f"  {r.name}: {r.path} - {r.description}")
        print("      sha256 none published: checked by structure (check-features)")
    return 0


def _resolve(name: str) -> tuple[list[Resource], str]:
    """A group or resource name -> its resources and default destination folder."""
    if name in GROUPS:
        return [RESOURCES[n] for n in GROUPS[name]], DEFAULT_DEST[name]
    if name in RESOURCES:
        group = next(g for g, names in GROUPS.items() if name in names)
        return [RESOURCES[name]], DEFAULT_DEST[group]
    if name in MANUAL_RESOURCES:
        print(MANUAL_RESOURCES[name].how_to_get())
        raise ValueError(f"{name} must be fetched by hand (steps above)")
    known = ", ".join([*GROUPS, *(n for n in RESOURCES if n not in GROUPS)])
    raise ValueError(f"unknown name {name!r}; choose one of: {known}")


# Members to take out of a downloaded archive: the 300-d GloVe text file is what the book reads.
EXTRACT = {"glove.6B.zip": ("glove.6B.300d.txt",)}


def extract_member(archive: str | os.PathLike, member: str, dest_dir: str | os.PathLike) -> Path:
    """Copy ``member`` out of a zip archive into ``dest_dir`` (temporary name, then rename).

    An existing extracted file is kept as it is: the archive's hash already vouches for its bytes.
    """
    import shutil
    import zipfile

    final = Path(dest_dir) / Path(member).name
    if final.exists():
        return final
    partial = final.with_name(final.name + ".part")
    with zipfile.ZipFile(archive) as zipped, zipped.open(member) as source, open(partial, "wb") as target:
        shutil.copyfileobj(source, target, 1 << 20)
    os.replace(partial, final)
    return final


def _cmd_get(args: argparse.Namespace) -> int:
    resources, default_dest = _resolve(args.name)
    dest = Path(args.dest or default_dest)
    for resource in resources:
        path = download(
            resource, dest, timeout=args.timeout, retries=args.retries,
            progress=not args.no_progress, allow_unpinned=args.allow_unpinned,
        )
        print(f"ok  {path}")
        for member in EXTRACT.get(resource.filename, ()):
            print(f"ok  {extract_member(path, member, dest)}")
    return 0


def _manual(name: str) -> ManualResource:
    if name not in MANUAL_RESOURCES:
        choices = ", ".join(MANUAL_RESOURCES)
        raise ValueError(f"unknown manual resource {name!r}; choose one of: {choices}")
    return MANUAL_RESOURCES[name]


def _cmd_how_to(args: argparse.Namespace) -> int:
    print(_manual(args.name).how_to_get())
    return 0


def _cmd_check_features(args: argparse.Namespace) -> int:
    dim, layout = args.dim, args.layout
    if args.resource:
        manual = _manual(args.resource)
        dim, layout = dim or manual.dim, layout or manual.layout
    if dim is None:
        raise ValueError("give --dim (or --resource NAME, which knows its width)")
    ids = [vid for ann in args.annotations for vid in video_ids_from_annotations(ann)]
    if not ids:
        raise ValueError("the annotation file(s) contain no video ids")
    count = verify_features(args.path, ids, dim, layout=layout or "flat")
    print(f"ok  {args.path}: {count} videos present, width {dim}, all values finite")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``argparse`` parser of the command line (kept separate so that it can be tested)."""
    parser = argparse.ArgumentParser(
        prog="python -m cnm_minimal.data.download",
        description="Fetch and verify the data files of the CNM book.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", help="show every file, its URL, size and SHA-256")
    listing.set_defaults(run=_cmd_list)

    get = commands.add_parser("get", help="download a group (charades-sta, glove-6b) or one file")
    get.add_argument("name")
    get.add_argument("--dest", help="destination folder (default depends on the group)")
    get.add_argument("--retries", type=int, default=3)
    get.add_argument("--timeout", type=float, default=60)
    get.add_argument("--no-progress", action="store_true")
    get.add_argument("--allow-unpinned", action="store_true")
    get.set_defaults(run=_cmd_get)

    how = commands.add_parser("how-to", help="print the manual steps for a feature file")
    how.add_argument("name")
    how.set_defaults(run=_cmd_how_to)

    check = commands.add_parser("check-features", help="check a hand-fetched HDF5 feature file")
    check.add_argument("path")
    check.add_argument("--annotations", action="append", required=True,
                       help="annotation file(s) listing the video ids that must be present")
    check.add_argument("--dim", type=int, help="expected feature width (1024 for I3D)")
    check.add_argument("--resource", help="a manual resource name; sets --dim and --layout")
    check.add_argument("--layout", choices=["flat", "c3d"], help="flat: file[vid]; c3d: file[vid]['c3d_features']")
    check.set_defaults(run=_cmd_check_features)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; expected failures print one ``error:`` message and return 1."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (DownloadError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        message = "interrupted: any .part file was kept; rerun the same command to resume"
        print("\n" + message, file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
