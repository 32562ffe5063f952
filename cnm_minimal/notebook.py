"""Helpers for the book's notebooks: show the package's own source code on the page.

The chapters never paste code from the package: they call :func:`show_source`, which reads the code
of the installed package with :mod:`inspect`. The output cells carry the ``nbval-check-output`` tag,
so if the package changes and the committed notebook is not re-executed, ``make test`` fails. That
is how nothing shown in the book can silently drift from the package.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import cnm_minimal

PACKAGE_ROOT = Path(cnm_minimal.__file__).resolve().parent


class SourceListing:
    """Source code of package objects; renders as a highlighted code block in notebooks and the book."""

    def __init__(self, *objects):
        if not objects:
            raise ValueError("show_source needs at least one function, class or module")
        self.parts = [self._listing(obj) for obj in objects]

    @staticmethod
    def _listing(obj) -> str:
        obj = inspect.unwrap(obj)                 # decorated functions: show the function as written
        lines, first = inspect.getsourcelines(obj)
        path = Path(inspect.getsourcefile(obj)).resolve()
        if not path.is_relative_to(PACKAGE_ROOT):
            raise ValueError(f"{obj!r} is not part of the cnm_minimal package")
        relative = path.relative_to(PACKAGE_ROOT.parent).as_posix()
        name = getattr(obj, "__qualname__", getattr(obj, "__name__", "?"))
        last = first + len(lines) - 1 if first else len(lines)
        header = f"# {relative}, lines {max(first, 1)}-{last}: {name}\n"
        return header + "".join(lines).rstrip("\n")

    @property
    def code(self) -> str:
        return "\n\n".join(self.parts)

    def __repr__(self) -> str:
        return self.code

    def _repr_markdown_(self) -> str:
        return f"```python\n{self.code}\n```"


def show_source(*objects) -> SourceListing:
    """Display the current source of package functions, classes or modules in a notebook."""
    return SourceListing(*objects)
