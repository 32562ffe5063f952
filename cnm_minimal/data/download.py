"""Fetch the book's public data files, prove they are the right bytes, and explain the rest (chapter 2).

Chapter 2 needs two kinds of input. The **public files** (the Charades-STA annotations, CNM's filtered split
of them and the GloVe 6B word vectors) have a fixed address and a pinned SHA-256, so a script can fetch them
and prove that the bytes on disk are the bytes this book was written against. The **video features**
(Charades-STA I3D, ActivityNet Captions C3D and CLIP) sit behind share links that no script can follow, and
nobody published a checksum of them: for those the module prints the manual steps, and checks the saved file
by its structure.

Both kinds are data, not code: :data:`RESOURCES` maps a name to a :class:`Resource` record (address, SHA-256,
size, the archive members to take out of it, licence), :data:`MANUAL_RESOURCES` to a :class:`ManualResource`
(where the file must be saved, its width and layout, the steps to get it).

The transfer is done by the ``pooch`` library. :func:`download` gives it the address and the pinned hash;
pooch streams the bytes into a temporary file in the destination folder, compares their SHA-256 with the pin,
and only then moves the file onto its final name. So a file under its final name has always been verified, and
a broken transfer or a wrong hash leaves nothing behind. A failed attempt, a wrong hash included, is retried
after a short wait (pooch's ``retry_if_failed``). A file already there with the right hash costs no request;
one with another hash is never overwritten (you are told to move it away), so your own data is never silently
replaced.

Pooch does not resume a broken transfer: if the 822 MB GloVe download fails half way, the next attempt starts
again from the first byte. That is acceptable: it costs minutes, once per machine, and in exchange there is no
partial file to resume from, so nothing half-written is ever used (a temporary file left by a killed process
has a random name, and is never taken for data).

Archive members (``glove.6B.300d.txt`` in ``glove.6B.zip``, the file the book reads) are checked each time
they are listed or fetched, by their own SHA-256 where one is known, else by the size the zip records for
them: a truncated extraction (a full disk, an interrupted run) is reported as bad and extracted again, never
passed off as ok. Extraction writes through :func:`cnm_minimal.atomic.atomic_write`.

A hand-fetched feature file is checked by :meth:`cnm_minimal.data.features.FeatureStore.problems`, the
trainer's own check, reading every array: each video of the annotations (read by
:mod:`cnm_minimal.data.annotations`) needs a ``[T >= 1, dim]`` array of finite numbers. The
command line, from the project root::

    python -m cnm_minimal download list                  # every file, its pin, and what is on disk
    python -m cnm_minimal download get charades-sta      # -> DATA/charades-sta/ (or --dest DIR)
    python -m cnm_minimal download get glove-6b          # -> DATA/glove/glove.6B.300d.txt

DATA is the data root (:mod:`cnm_minimal.data.root`: ``$CNM_DATA``, else the repository's ``data/``).
    python -m cnm_minimal download how-to charades-i3d   # the manual steps for a feature file
    python -m cnm_minimal download check-features FILE --resource charades-i3d --annotations ANNOTATIONS
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import zipfile
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import pooch

from cnm_minimal.atomic import atomic_write
from cnm_minimal.data.annotations import CNM_POLICY, read_charades_sta, read_durations, read_json_annotations
from cnm_minimal.data.root import data_root

COMMAND = "python -m cnm_minimal download"


class ChecksumError(ValueError):
    """A file's bytes are not the pinned ones (a wrong file on disk, or a server sending other bytes)."""


class DownloadError(RuntimeError):
    """A transfer failed on every attempt (no connection, an HTTP error)."""


@dataclass(frozen=True)
class Member:
    """A file to take out of a downloaded zip; without a ``sha256`` it is checked by the size the zip
    records."""

    name: str
    sha256: str | None = None


@dataclass(frozen=True)
class Resource:
    """One public file: where it comes from, its pinned SHA-256 and size, and where ``get`` puts it
    (``folder`` of the data root, for its ``group``); ``members`` are the files to extract from it when it is
    a zip."""

    name: str
    group: str
    folder: str
    filename: str
    url: str
    sha256: str
    size: int
    description: str
    licence: str = ""
    members: tuple[Member, ...] = ()

    def __post_init__(self) -> None:
        if not self.url.startswith(("https://", "http://")):
            raise ValueError(f"{self.name}: url must be http(s), got {self.url!r}")
        for sha in (self.sha256, *(m.sha256 for m in self.members if m.sha256 is not None)):
            if not re.fullmatch(r"[0-9a-f]{64}", sha or ""):
                raise ValueError(f"{self.name}: a sha256 must be 64 lowercase hex digits, got {sha!r}")
        if Path(self.filename).name != self.filename or self.filename in {"", ".", ".."}:
            raise ValueError(f"{self.name}: filename must be a bare file name, got {self.filename!r}")

    def dest(self, root=None) -> Path:
        """The folder ``get`` puts the file in: ``folder`` under the data root (or under ``root``)."""
        return Path(root or data_root()) / self.folder


@dataclass(frozen=True)
class ManualResource:
    """A feature file to fetch by hand: HDF5, one ``[T, dim]`` array per video, at ``file[vid]`` (layout
    ``"flat"``) or ``file[vid]["c3d_features"]`` (``"c3d"``); ``path``, under the data root, is where the book
    expects it."""

    name: str
    path: str
    dim: int
    description: str
    instructions: str
    layout: str = "flat"
    licence: str = ""

    def how_to_get(self) -> str:
        """The manual steps, the path to save the file at, and the command that checks it."""
        return (
            f"{self.name}: {self.description}\nNo script can fetch this file, and no checksum of it is "
            f"published.\n{self.instructions.strip()}\nSave it as:   {data_root() / self.path}\n"
            f"Then check:   {COMMAND} check-features {data_root() / self.path} --resource {self.name} "
            f"--annotations <annotation file>\n(the check opens the file and looks for every video id of the "
            f"annotations, a width of {self.dim} and finite values)\nLicence: {self.licence}"
        )


_2DTAN = "https://raw.githubusercontent.com/microsoft/2D-TAN/master/data/Charades-STA/"
_CNM = (
    "https://raw.githubusercontent.com/minghangz/cnm/5ccb192fa21691705fe07bfea4d95757cef2e3b9/data/charades/"
)
_CHARADES = "Charades licence: non-commercial research use only (see the Charades project page)"
# The six Charades-STA hashes were measured on the real files. CNM's files are read at commit 5ccb192: a
# commit in a raw URL never moves, unlike a branch name. The GloVe pin is the one published in
# JuliaText/Embeddings.jl (src/glove.jl, its DataDeps registration of "glove.6B"), the same value as the Git
# LFS pointer of glove.6B.zip in the Hugging Face repository kcz358/glove; its size is the Content-Length that
# Stanford's server announces. No SHA-256 of the extracted glove.6B.300d.txt is known: it is checked by size.
_CHARADES_STA = (  # name, file name, description; address, SHA-256, size in bytes
    (
        "charades-sta-train",
        "charades_sta_train.txt",
        "Charades-STA train queries, 12,408 lines `VID start end##sentence`",
        _2DTAN + "charades_sta_train.txt",
        "47ec9b6b488fca753373d9cc29b07a959f7237a922cb29463cd088cd6198e805",
        622_491,
    ),
    (
        "charades-sta-test",
        "charades_sta_test.txt",
        "Charades-STA test queries (3,720 lines)",
        _2DTAN + "charades_sta_test.txt",
        "fab341679c20b0917173dcffffde367a71113fe63f3a645558cef2ebfbfefb55",
        186_686,
    ),
    (
        "charades-v1-train",
        "Charades_v1_train.csv",
        "official Charades train annotations (video lengths: column `length`)",
        _2DTAN + "Charades_v1_train.csv",
        "59273c6dc2139ec7eb95b980fd26bc8529774b1ede0602f6ca90b546ed12f0fc",
        3_622_045,
    ),
    (
        "charades-v1-test",
        "Charades_v1_test.csv",
        "official Charades test annotations",
        _2DTAN + "Charades_v1_test.csv",
        "8b8b207b55fb95b949018027f69d83bd46cd844d15834f8f592ee8e7446173eb",
        1_173_833,
    ),
    (
        "cnm-charades-train",
        "cnm_train.json",
        "CNM's filtered train split, 10,602 [vid, duration, [start, end], sentence]",
        _CNM + "train.json",
        "396fafa7dc6df850a888be43f4bf4b68ee598dc1439f3dd3d1fcdbf3114d2be6",
        721_705,
    ),
    (
        "cnm-charades-test",
        "cnm_test.json",
        "CNM's filtered test split (3,158 queries)",
        _CNM + "test.json",
        "bc515382dafa093df67479a37a3e90f22d7da968405c49bac4c82a498b44567a",
        215_048,
    ),
)
# Charades-CD (Yuan et al. 2021), read at the commit its README names: the same Charades videos re-split.
_CHARADES_CD_ROOT = (
    "https://raw.githubusercontent.com/yytzsy/grounding_changing_distribution/83b07d4/Charades-CD/"
)
_CHARADES_CD = (  # file name, description, SHA-256, size in bytes (measured on the files)
    (
        "charades_train.json",
        "Charades-CD train split (11,071 queries)",
        "e8bd49b87d6e166ba349035136396fa4bb3fbc8f85f9612544215624c7042651",
        1_611_562,
    ),
    (
        "charades_val.json",
        "Charades-CD validation split (859 queries)",
        "05d451cbf0cc6441405d071440915974c52ea820a2627c8be4a6bbfff88cce3e",
        122_619,
    ),
    (
        "charades_test_iid.json",
        "Charades-CD in-distribution test split (823 queries)",
        "c75e4393425a21842abc6d5f75deb5ee64c54d38148bcd4adac7417099b82566",
        118_860,
    ),
    (
        "charades_test_ood.json",
        "Charades-CD out-of-distribution test split (3,375 queries)",
        "a73847ada163bfcbbad2f616311098e6139b63ca6f93f537ca41b01b81961166",
        500_447,
    ),
)

RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        *(
            Resource(
                name, "charades-sta", "charades-sta", filename, url, sha256, size, description, _CHARADES
            )
            for name, filename, description, url, sha256, size in _CHARADES_STA
        ),
        *(
            Resource(
                "charades-cd-" + filename.removeprefix("charades_").removesuffix(".json").replace("_", "-"),
                "charades-cd",
                "charades-cd",
                filename,
                _CHARADES_CD_ROOT + filename,
                sha256,
                size,
                description,
                _CHARADES,
            )
            for filename, description, sha256, size in _CHARADES_CD
        ),
        Resource(
            "glove-6b",
            "glove-6b",
            "glove",
            "glove.6B.zip",
            "https://nlp.stanford.edu/data/glove.6B.zip",
            "617afb2fe6cbd085c235baf7a465b96f4112bd7f7ccb2b2cbd649fed9cbcf2fb",
            862_182_613,
            "GloVe 6B word vectors (Wikipedia 2014 + Gigaword 5, 400k uncased words), a zip of 4 text files",
            "Open Data Commons Public Domain Dedication and License (PDDL) 1.0",
            members=(Member("glove.6B.300d.txt", sha256=None),),
        ),
    )
}

_BAIDU = """Feature share links like the one below are known to expire (users report dead links), and this
book cannot check it for you: it may no longer work.
  1. Open the CNM README, section "Data Preparation": https://github.com/minghangz/cnm
     It links a Baidu Netdisk share (https://pan.baidu.com/s/1_JiOUG3FKkKXij-0kVfkuA, access code ryeh)
     holding CNM's data folder."""
MANUAL_RESOURCES: dict[str, ManualResource] = {
    r.name: r
    for r in (
        ManualResource(
            "charades-i3d",
            "charades-sta/i3d_features.hdf5",
            1024,
            "Charades-STA I3D features (CNM): HDF5, a [T, 1024] dataset per video",
            _BAIDU
            + """
  2. From it take charades/i3d_features.hdf5 (I3D features from the LGI repository,
     JonghwanMun/LGI4temporalgrounding, which CNM converted from .npy to HDF5).
  3. Create the folder charades-sta/ in the data root and move the file there under the name below.""",
            licence="distributed by the CNM authors; derived from Charades videos (" + _CHARADES + ")",
        ),
        ManualResource(
            "activitynet-c3d",
            "activitynet/c3d_features.hdf5",
            500,
            "ActivityNet Captions C3D features: HDF5, per video c3d_features [T, 500]",
            """
CNM's README points to the ActivityNet 2016 challenge page for these features; that page may have moved since.
  1. Open the ActivityNet 2016 challenge download page: http://activity-net.org/challenges/2016/download.html
  2. Download the C3D features (the HDF5 file, PCA-reduced to 500 dimensions; each video id
     "v_..." is a group holding one dataset "c3d_features").
  3. Create the folder activitynet/ in the data root and save the file there under the name below.""",
            layout="c3d",
            licence="the ActivityNet terms of use (see the challenge page)",
        ),
        ManualResource(
            "activitynet-clip",
            "activitynet/clip_vit_32_features.hdf5",
            512,
            "ActivityNet Captions CLIP features (CNM): HDF5, [T, 512] per video",
            _BAIDU
            + """
  2. From it take activitynet/clip_vit_32_features.hdf5 (CLIP image features, one vector every 8 frames).
  3. Create the folder activitynet/ in the data root and save the file there under the name below.""",
            licence="distributed by the CNM authors; derived from ActivityNet videos (its terms of use)",
        ),
    )
}


def file_sha256(path) -> str:
    """The SHA-256 of a file's bytes (pooch's, read in chunks): the one hash every pinned and recorded file
    gets."""
    return pooch.file_hash(str(path))


def file_problem(path, sha256: str | None, size: int | None = None) -> str | None:
    """``None`` if the file at ``path`` has this size and SHA-256 (either may be ``None``: not checked),
    otherwise what is wrong with it, in words."""
    path = Path(path)
    if not path.is_file():
        return "missing"
    if size is not None and path.stat().st_size != size:
        return f"{path.stat().st_size:,} bytes, expected {size:,} (truncated, or another file)"
    if sha256 is not None and (actual := file_sha256(path)) != sha256:
        return f"SHA-256 {actual}, expected {sha256}"
    return None


def download(
    resource: Resource, dest_dir=None, *, retries: int = 3, timeout: float = 60, progress: bool = False
) -> Path:
    """Fetch ``resource`` into ``dest_dir`` (default: its ``folder``) with pooch; return the verified file. No
    request when it is there with the right hash; :class:`ChecksumError` when it is there with another (left
    untouched) or the server sends other bytes (nothing kept); :class:`DownloadError` when every attempt
    fails."""
    import requests  # pooch's HTTP client; imported here for its exception types only

    final = Path(dest_dir or resource.dest()) / resource.filename
    existed = final.exists()
    fetcher = pooch.create(
        path=final.parent,
        base_url="",
        registry={resource.filename: f"sha256:{resource.sha256}"},
        urls={resource.filename: resource.url},
        retry_if_failed=retries,
        allow_updates=False,
    )
    try:
        return Path(
            fetcher.fetch(
                resource.filename, downloader=pooch.HTTPDownloader(progressbar=progress, timeout=timeout)
            )
        )
    except ValueError as error:
        if existed:  # pooch refuses to update: the file there has another hash
            raise ChecksumError(
                f"{final} already exists but is not {resource.name}: "
                f"{file_problem(final, resource.sha256)}. It was left untouched: move it away "
                f"(or delete it) and run again for a fresh copy."
            ) from None
        raise ChecksumError(
            f"{resource.name} ({resource.url}): {error} Nothing was written to {final}."
        ) from None
    except requests.exceptions.RequestException as error:
        raise DownloadError(
            f"{resource.name}: {resource.url} failed on {retries + 1} attempt(s) ({error}). "
            f"Nothing half-written was kept; check the connection and run again."
        ) from None


def members(resource: Resource, dest_dir=None, repair: bool = False) -> dict[Path, str | None]:
    """Each member of the zip ``resource`` in ``dest_dir`` and what is wrong with it (``None``: good), checked
    by its SHA-256 when known, else by the size the zip records. ``repair`` extracts every missing or bad one
    again (checked before it reaches its final name), and the result then says what was wrong before."""
    dest = Path(dest_dir or resource.dest())
    archive, found = dest / resource.filename, {}
    with (
        zipfile.ZipFile(archive)
        if resource.members and zipfile.is_zipfile(archive)
        else nullcontext() as zipped
    ):
        for member in resource.members:
            path, info = dest / Path(member.name).name, zipped.getinfo(member.name) if zipped else None
            found[path] = problem = file_problem(path, member.sha256, info and info.file_size)
            if problem is None and not (info or member.sha256):
                found[path] = f"cannot be checked: {archive}, which records its size, is missing or damaged"
            if repair and problem is not None:
                digest = hashlib.sha256()
                with zipped.open(info) as source, atomic_write(path, "wb") as target:
                    while chunk := source.read(1 << 20):
                        target.write(chunk)
                        digest.update(chunk)
                    if target.tell() != info.file_size or member.sha256 not in (None, digest.hexdigest()):
                        raise ChecksumError(
                            f"{member.name} came out of {archive} as {target.tell():,} bytes, "
                            f"SHA-256 {digest.hexdigest()}: delete the archive and run get again"
                        )
    return found


def video_ids(path, durations: Sequence = ()) -> list[str]:
    """The distinct video ids of an annotation file, read by :mod:`cnm_minimal.data.annotations`: a Charades
    CSV (its ``id`` column), a json file (CNM's or ActivityNet's, the queries CNM's filtering keeps), or a
    Charades-STA text file, whose durations come from ``durations`` or the Charades CSVs next to it."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"{path}: annotation file not found (`{COMMAND} get charades-sta` fetches Charades-STA's)"
        )
    if path.suffix == ".csv":
        return list(read_durations(path))
    if path.suffix == ".json":
        queries, _ = read_json_annotations(path, CNM_POLICY)
    else:
        names = ("Charades_v1_train.csv", "Charades_v1_test.csv", "durations.csv")
        durations = durations or [p for p in (path.parent / n for n in names) if p.is_file()]
        if not durations:
            raise ValueError(
                f"{path}: a Charades-STA text file has no durations; give --durations "
                f"Charades_v1_train.csv (from `{COMMAND} get charades-sta`)"
            )
        queries, _ = read_charades_sta(path, read_durations(*durations), CNM_POLICY)
    return list(dict.fromkeys(q.vid for q in queries))


def _state(problem: str | None) -> str:
    return "[ok]" if problem is None else "[missing]" if problem == "missing" else f"[BAD: {problem}]"


def _cmd_list(args) -> int:
    print(f"Data root: {data_root()} (set CNM_DATA to use another folder)")
    print(f"Scriptable files ({COMMAND} get NAME or GROUP), with the state of their folder now:")
    for group in dict.fromkeys(r.group for r in RESOURCES.values()):
        print(f"\n[{group}]")
        for r in (r for r in RESOURCES.values() if r.group == group):
            state = _state(file_problem(r.dest() / r.filename, r.sha256, r.size))
            print(
                f"  {r.name}: {r.dest() / r.filename} ({r.size:,} bytes) {state}\n      {r.description}\n"
                f"      url     {r.url}\n      sha256  {r.sha256}\n      licence {r.licence}"
            )
            for member, (path, problem) in zip(r.members, members(r).items()):
                how = (
                    f"sha256 {member.sha256}"
                    if member.sha256
                    else "no sha256 known: checked by its size in the zip"
                )
                print(f"      member  {path} ({how}) {_state(problem)}")
    print(f"\nFiles to fetch by hand ({COMMAND} how-to NAME), checked by structure (check-features):")
    print(
        "".join(f"  {m.name}: {data_root() / m.path} - {m.description}\n" for m in MANUAL_RESOURCES.values()),
        end="",
    )
    return 0


def _cmd_get(args) -> int:
    if args.name in MANUAL_RESOURCES:
        print(MANUAL_RESOURCES[args.name].how_to_get())
        raise ValueError(f"{args.name} must be fetched by hand (the steps are above)")
    chosen = [r for r in RESOURCES.values() if args.name in (r.name, r.group)]
    if not chosen:
        names = ", ".join(dict.fromkeys([*(r.group for r in RESOURCES.values()), *RESOURCES]))
        raise ValueError(f"unknown name {args.name!r}; choose one of: {names}")
    for resource in chosen:
        path = download(
            resource, args.dest, retries=args.retries, timeout=args.timeout, progress=not args.no_progress
        )
        print(f"ok  {path}")
        for member, problem in members(resource, path.parent, repair=True).items():
            print(
                f"ok  {member}"
                + ("" if problem in (None, "missing") else f"  (re-extracted: it was {problem})")
            )
    return 0


def _manual(name: str) -> ManualResource:
    if name not in MANUAL_RESOURCES:
        raise ValueError(f"unknown manual resource {name!r}; choose one of: {', '.join(MANUAL_RESOURCES)}")
    return MANUAL_RESOURCES[name]


def _cmd_how_to(args) -> int:
    print(_manual(args.name).how_to_get())
    return 0


def _cmd_check_features(args) -> int:
    from cnm_minimal.data.features import FeatureStore  # imports h5py: only here

    manual = _manual(args.resource) if args.resource else None
    dim, layout = args.dim or (manual and manual.dim), args.layout or (manual and manual.layout) or "flat"
    if not dim:
        raise ValueError("give --dim (or --resource NAME, which knows the width)")
    ids = {vid for annotations in args.annotations for vid in video_ids(annotations, args.durations or ())}
    if not ids:
        raise ValueError(f"{', '.join(args.annotations)}: no video ids in the annotation file(s)")
    fix = f"`{COMMAND} how-to {manual.name}` says how to get it" if manual else "check the path"
    if not Path(args.path).is_file():
        raise ValueError(f"{args.path}: feature file not found; {fix}")
    problems = FeatureStore(args.path, layout).problems(ids, dim, read_values=True)
    if problems:
        more = f"  ... and {len(problems) - 50} more\n" if len(problems) > 50 else ""
        print("".join(f"  - {problem}\n" for problem in problems[:50]) + more, end="")
        raise ValueError(
            f"{args.path}: {len(problems)} of {len(ids)} annotated video(s) have unusable features "
            f"(listed above); fetch the file again ({fix}), or check the annotation file and --dim"
        )
    print(f"ok  {args.path}: {len(ids)} videos present, width {dim}, all values finite")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser: ``list``, ``get``, ``how-to`` and ``check-features``."""
    parser = argparse.ArgumentParser(
        prog=COMMAND, description="Fetch and verify the data files of the CNM book."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every file, its URL, size, SHA-256 and state on disk")
    get = commands.add_parser(
        "get", help="download a group (charades-sta, glove-6b) or one file, and extract it"
    )
    get.add_argument("name")
    get.add_argument(
        "--dest", help="destination folder (default: the resource's folder in the data root, shown by list)"
    )
    get.add_argument("--retries", type=int, default=3, help="attempts after a failed one (default 3)")
    get.add_argument("--timeout", type=float, default=60, help="seconds without data before an attempt fails")
    get.add_argument("--no-progress", action="store_true")
    commands.add_parser("how-to", help="print the manual steps for a feature file").add_argument("name")
    check = commands.add_parser("check-features", help="check a hand-fetched HDF5 feature file")
    check.add_argument("path")
    check.add_argument(
        "--annotations",
        action="append",
        required=True,
        help="annotation file(s) (.json, .txt or .csv) naming the videos that must be present",
    )
    check.add_argument(
        "--durations", action="append", help="Charades CSV(s) with the lengths, for a .txt file"
    )
    check.add_argument("--dim", type=int, help="expected feature width (1024 for I3D)")
    check.add_argument("--resource", help="a manual resource name; sets --dim and --layout")
    check.add_argument(
        "--layout", choices=["flat", "c3d"], help="flat: file[vid]; c3d: file[vid]['c3d_features']"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; an expected failure prints one ``error: ...`` line on stderr and returns 2."""
    args = build_parser().parse_args(argv)
    try:
        commands = {
            "list": _cmd_list,
            "get": _cmd_get,
            "how-to": _cmd_how_to,
            "check-features": _cmd_check_features,
        }
        return commands[args.command](args)
    except (DownloadError, ValueError, OSError, zipfile.BadZipFile) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: nothing half-written was kept; run the same command again", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
