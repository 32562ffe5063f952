"""Sentences as word ids, word vectors and masking weights (chapter 2).

The authors tokenise with NLTK (``word_tokenize`` + ``pos_tag``), whose models are a download of their own
that a fresh machine lacks. We replace both by documented rules and measure how close they come (chapter 2
compares our token counts with the counter stored in CNM's vocabulary file):

* :func:`tokenize` lower-cases and splits like NLTK's Treebank tokenizer on this kind of text: words
  (with inner hyphens, slashes and dots kept, as in ``walk-in``, ``he/she``, ``door.the``), the clitics
  ``n't 's 're 've 'll 'm 'd`` as tokens of their own, and every other punctuation mark as a token, so
  the full stop ``.`` is a word, as in the official vocabulary.
* :class:`Vocabulary` keeps the K most common tokens, ids 1..K in frequency order (0 is padding);
  tokens outside it are dropped, as the authors do.
* :func:`masking_weights` gives 2 to content words and 1 to function words. NLTK's tagger gave 2 to
  nouns, verbs, adjectives and adverbs (tags containing NN, VB, JJ, RB); we ship the closed-class
  words instead (``function_words.txt``: determiners, pronouns, prepositions, conjunctions, particles,
  numerals, punctuation). Auxiliary verbs such as ``is`` stay content words, as the tagger made them.
* :func:`load_word_vectors` reads GloVe's text format or an ``.npz`` (never a pickle), of any dimension.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from cnm_minimal.atomic import atomic_path, atomic_write
from cnm_minimal.data.textfile import text_lines

_CLITICS = re.compile(r"(n't|'(?:s|re|ve|ll|m|d))\b")
_TOKEN = re.compile(r"n't|'(?:s|re|ve|ll|m|d)\b|[^\W_]+(?:[-/.][^\W_]+)*|[^\s\w]|_")  # letters of any script


def tokenize(sentence: str) -> list[str]:
    """Lower-cased tokens of ``sentence``: words, clitics and punctuation marks (see the module docstring)."""
    text = _CLITICS.sub(r" \1", sentence.lower())
    return _TOKEN.findall(text)


def load_function_words() -> frozenset[str]:
    """The shipped closed-class word list (one word per line, ``#`` starts a comment)."""
    text = resources.files("cnm_minimal.data").joinpath("function_words.txt").read_text(encoding="utf-8")
    return frozenset(w for line in text.splitlines() if (w := line.split("#", 1)[0].strip()))


FUNCTION_WORDS = load_function_words()


def masking_weights(tokens: Iterable[str]) -> np.ndarray:
    """2.0 for content words, 1.0 for function words; softmax of these picks the words to mask (chapter 6)."""
    return np.array(
        [1.0 if t in FUNCTION_WORDS or not any(c.isalpha() for c in t) else 2.0 for t in tokens],
        dtype=np.float32,
    )


@dataclass(frozen=True)
class Vocabulary:
    """The K kept words; ``ids[word]`` is in 1..K (frequency order), 0 is padding."""

    words: tuple[str, ...]  # words[i - 1] has id i

    @classmethod
    def from_counts(cls, counts: Counter | dict[str, int], size: int) -> Vocabulary:
        """Keep the ``size`` most common words (ties keep the counter's insertion order, as Counter does)."""
        if size < 1:
            raise ValueError(f"vocabulary size must be at least 1, got {size}")
        return cls(tuple(word for word, _ in Counter(counts).most_common(size)))

    @classmethod
    def from_sentences(cls, sentences: Iterable[str], size: int, known=None) -> Vocabulary:
        """The ``size`` most common tokens of ``sentences``; with ``known`` (e.g. the words that have a
        vector), only those: the others become unknown words, dropped from sentences, as the authors'
        vocabulary does."""
        counts = Counter(t for s in sentences for t in tokenize(s))
        return cls.from_counts(
            counts if known is None else {w: n for w, n in counts.items() if w in known}, size
        )

    @property
    def ids(self) -> dict[str, int]:
        return {word: i for i, word in enumerate(self.words, start=1)}

    def __len__(self) -> int:
        """Number of output classes V = K + 1 (the padding id 0 included)."""
        return len(self.words) + 1

    def encode(self, tokens: Iterable[str]) -> tuple[list[int], list[str]]:
        """Ids of the in-vocabulary tokens, and the kept tokens themselves; others are dropped."""
        ids = self.ids
        kept = [t for t in tokens if t in ids]
        return [ids[t] for t in kept], kept


def read_counts_tsv(path) -> Counter:
    """Word counts from a ``word<TAB>id<TAB>count`` file with a header (as CNM's counter is stored)."""
    counts: Counter = Counter()
    for number, line in text_lines(path):
        if number == 1:  # the header
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) != 3 or not fields[2].isdigit():
            raise ValueError(f"{path}:{number}: expected word<TAB>id<TAB>count, got {line.rstrip()!r}")
        if int(fields[2]) > 0:
            counts[fields[0]] = int(fields[2])
    return counts


class WordVectorError(ValueError):
    """A word-vector file that cannot be used; the message names the file and line."""


CACHE_FROM_BYTES = 50_000_000
"""Text files at least this large (GloVe 6B's 300-d file: 1 GB) have the rows of a vocabulary cached beside
them."""


def read_word_vectors(path, words=None) -> dict[str, np.ndarray]:
    """The vectors of a GloVe text file (``word v1 ... vD`` per line) or an ``.npz`` with
    ``words``/``vectors``: all of them, or with ``words`` only those (the others are absent from the result).
    A text file's rows for ``words`` are cached beside it on first use when the file is large
    (:data:`CACHE_FROM_BYTES`, :func:`vector_cache_path`), so that later runs do not parse GloVe's 1 GB again;
    a folder that cannot be written to only loses the cache."""
    path = Path(path)
    wanted = None if words is None else set(words)
    if path.suffix == ".npz":
        table = _read_npz(path)
        return table if wanted is None else {w: v for w, v in table.items() if w in wanted}
    if wanted is None or path.stat().st_size < CACHE_FROM_BYTES:
        return _read_text(path, wanted)
    cache = vector_cache_path(path, wanted)
    if cache.is_file():
        return _read_npz(cache)
    table = _read_text(path, wanted)
    if not table:  # none of the words: nothing worth caching
        return table
    try:
        with atomic_path(cache) as temporary:
            with open(temporary, "wb") as handle:
                np.savez(
                    handle,
                    words=np.array(sorted(table), dtype=str),
                    vectors=np.stack([table[w] for w in sorted(table)]),
                )
    except OSError:
        pass
    return table


def vector_cache_path(path, words) -> Path:
    """Where the rows of ``words`` from the text file ``path`` are cached: beside it, named by a SHA-256 of
    the file's size and of the sorted words (another file or another vocabulary gets another cache)."""
    path = Path(path)
    digest = hashlib.sha256(
        f"{path.stat().st_size}\n".encode() + "\n".join(sorted(words)).encode()
    ).hexdigest()
    return path.with_name(f"{path.stem}.rows-{digest[:16]}.npz")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        if not {"words", "vectors"} <= set(archive.files):
            raise WordVectorError(f"{path}: an .npz of word vectors needs arrays 'words' and 'vectors'")
        words, vectors = archive["words"], archive["vectors"].astype(np.float32)
    if vectors.ndim != 2 or len(words) != len(vectors):
        raise WordVectorError(f"{path}: {len(words)} words but vectors of shape {vectors.shape}")
    if not len(words):
        raise WordVectorError(
            f"{path}: no word vectors in this file (it is empty); point --word-vectors at GloVe"
        )
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if len(bad):
        raise WordVectorError(
            f"{path}: the vector of word {str(words[bad[0]])!r} (row {bad[0] + 1}) is not finite "
            f"(nan or inf; {len(bad)} row(s) in all)"
        )
    return {str(w): v for w, v in zip(words, vectors)}


def _read_text(path: Path, wanted: set[str] | None = None) -> dict[str, np.ndarray]:
    table, dim = {}, None
    for number, line in text_lines(path):
        word = line.partition(" ")[0]
        if dim is not None and wanted is not None and word not in wanted:
            continue
        fields = line.rstrip().split(" ")  # a trailing space or CRLF is not a value
        if dim is None:
            dim = len(fields) - 1
        if len(fields) - 1 != dim or dim < 1:
            raise WordVectorError(f"{path}:{number}: {len(fields) - 1} numbers, but the first line has {dim}")
        try:
            vector = np.array(fields[1:], dtype=np.float32)
        except ValueError:
            raise WordVectorError(f"{path}:{number}: a value of word {fields[0]!r} is not a number") from None
        if not np.isfinite(vector).all():
            raise WordVectorError(
                f"{path}:{number}: the vector of word {fields[0]!r} is not finite (nan or inf); "
                "fix or remove that line"
            )
        if wanted is None or word in wanted:
            table[fields[0]] = vector
    if dim is None:
        raise WordVectorError(
            f"{path}: no word vectors in this file (it is empty); point --word-vectors at GloVe"
        )
    return table


def embedding_matrix(
    vocabulary: Vocabulary, table: dict[str, np.ndarray], source: str = "word vectors"
) -> np.ndarray:
    """``[K + 1, D]`` float32: row ``i`` is the vector of the word with id ``i``; row 0 (padding) is zero."""
    missing = [w for w in vocabulary.words if w not in table]
    if missing:
        raise WordVectorError(f"{source}: no vector for {len(missing)} vocabulary word(s): {missing[:20]}")
    dim = len(next(iter(table.values())))
    matrix = np.zeros((len(vocabulary), dim), dtype=np.float32)
    for i, word in enumerate(vocabulary.words, start=1):
        matrix[i] = table[word]
    return matrix


def write_word_vectors(path, words: Iterable[str], vectors: np.ndarray) -> None:
    """Write GloVe's text format (shortest round-trip float32 repr), atomically."""
    with atomic_write(path) as handle:
        for word, vector in zip(words, np.asarray(vectors, dtype=np.float32)):
            handle.write(word + " " + " ".join(str(x) for x in vector) + "\n")  # str(np.float32): round-trip
