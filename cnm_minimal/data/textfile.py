"""Reading the data's text files: UTF-8, with or without a byte-order mark, and one line naming file and line
when a file is in another encoding (chapter 2; the appendix).

Editors on Windows save UTF-8 with an invisible byte-order mark, which would otherwise glue itself to the
first video id or column name; a file saved as Latin-1 fails at its first non-ASCII byte, whose line the error
names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


class TextFileError(ValueError):
    """A text file that is not UTF-8; the message names the file and the line."""


def read_text(path) -> str:
    """The whole file as text, the byte-order mark removed."""
    path = Path(path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _not_utf8(path, data[: error.start].count(b"\n") + 1, data[error.start]) from None


def text_lines(path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a file read line by line (for files too large to hold, such as GloVe's)."""
    path = Path(path)
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise _not_utf8(path, number, raw[error.start]) from None


def _not_utf8(path: Path, line: int, byte: int) -> TextFileError:
    return TextFileError(
        f"{path}:{line}: not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8 and rerun"
    )
