"""Helpers for the book's notebooks: show the package's own source code on the page, glue numbers into the
prose.

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
        obj = inspect.unwrap(obj)  # decorated functions: show the function as written
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


def glue_numbers(prefix: str, values: dict) -> dict:
    """Glue each value (text, formatted by the caller) as ``{prefix}_{key}``, for the prose to cite with
    ``{glue:text}`prefix_key```; nothing is displayed. Returns ``values``, so that a cell can print what it
    glued."""
    from myst_nb import glue  # the book's builder; imported only where a page glues

    for key, value in values.items():
        glue(f"{prefix}_{key}", str(value), display=False)
    return values


def pm(mean: float, std: float, scale: float = 100, digits: int = 1) -> str:
    """``mean +- std`` as the book's tables print it (percentages by default)."""
    return f"{scale * mean:.{digits}f} +- {scale * std:.{digits}f}"
