"""Writing files so that a crash never leaves half of one: :func:`atomic_write` and :func:`atomic_path`.

Every file the package writes (annotations, features, checkpoints, results, predictions, downloads) goes
through them: the content is written to a temporary file in the same folder, flushed to disk, and only then
renamed onto the final name with :func:`os.replace`, which is atomic. A reader sees the old file or the new
one, never a mix. The temporary name is unique per call, so two writers of one file cannot collide on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path):
    """``with atomic_path(path) as tmp: ...``: write ``tmp`` (a fresh name beside ``path``) with any library;
    on success it replaces ``path``, on an exception it is removed and ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a written file gets the usual mode
        yield tmp
        with open(tmp, "rb+") as f:  # on disk before the rename
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if (
            isinstance(error, OSError) and error.filename is None
        ):  # a full disk says which file it was writing
            raise OSError(error.errno, error.strerror, str(path)) from None
        raise


@contextlib.contextmanager
def atomic_write(path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None):
    """``with atomic_write(path) as f: ...``: ``f`` is an open temporary file that replaces ``path`` on
    success (``mode`` ``"w"`` for text, ``"wb"`` for bytes)."""
    with atomic_path(path) as tmp:
        binary = "b" in mode
        with open(tmp, mode, encoding=None if binary else encoding, newline=None if binary else newline) as f:
            yield f


def write_json(path, obj) -> None:
    """``obj`` as indented JSON at ``path``, atomically."""
    with atomic_write(path) as f:
        f.write(json.dumps(obj, indent=1) + "\n")
