"""Where the data live: one folder, the **data root** (chapter 2).

Every command and chapter finds its files under the data root, in the layout ``python -m cnm_minimal
download`` leaves there: ``charades-sta/`` (the Charades-STA annotations and CNM's split), ``charades-cd/``,
``glove/`` (GloVe 6B), and the features the book builds (``charades-timelines/``). The data root is

* the folder named by the environment variable ``CNM_DATA``, when it is set;
* else ``data/`` in the book's repository (found by walking up from the working folder: the notebooks run from
  ``book/``, the commands from the repository root);
* else ``data/`` in the working folder.

Word vectors are GloVe 6B (``glove/glove.6B.300d.txt``, ``download get glove-6b``) unless ``CNM_WORD_VECTORS``
names another file: any GloVe-format text or ``.npz`` that holds the vocabulary's words.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "CNM_DATA"
WORD_VECTORS_ENV = "CNM_WORD_VECTORS"
GLOVE_FILE = Path("glove") / "glove.6B.300d.txt"


def repository_root(start=None) -> Path | None:
    """The book's repository holding ``start`` (default: the working folder), or ``None`` outside one."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "cnm_minimal" / "__init__.py").is_file() and (folder / "_config.yml").is_file():
            return folder
    return None


def data_root() -> Path:
    """The data root: ``$CNM_DATA``, else the repository's ``data/``, else ``./data``."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    repository = repository_root()
    return repository / "data" if repository else Path("data")


def word_vectors_path(root=None) -> Path:
    """The word-vector file: ``$CNM_WORD_VECTORS``, else GloVe 6B's 300-d file under the data root."""
    if os.environ.get(WORD_VECTORS_ENV):
        return Path(os.environ[WORD_VECTORS_ENV])
    return Path(root or data_root()) / GLOVE_FILE


def describe(path, root=None) -> str:
    """``path`` as a record shows it: under the data root as ``$CNM_DATA/...``, the word-vector file named by
    ``CNM_WORD_VECTORS`` as ``$CNM_WORD_VECTORS``; no path of the machine that ran it."""
    path = Path(path)
    if os.environ.get(WORD_VECTORS_ENV) and path.resolve() == Path(os.environ[WORD_VECTORS_ENV]).resolve():
        return "$" + WORD_VECTORS_ENV
    root = Path(root or data_root()).resolve()
    try:
        return "$" + DATA_ENV + "/" + path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.as_posix() if not path.is_absolute() else path.name
