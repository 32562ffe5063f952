"""Tokenizer, vocabulary, masking weights and word vectors (cnm_minimal/data/text.py)."""

import json
from collections import Counter

import numpy as np
import pytest

from cnm_minimal.data.text import (
    Vocabulary,
    WordVectorError,
    embedding_matrix,
    masking_weights,
    read_counts_tsv,
    read_word_vectors,
    tokenize,
    write_word_vectors,
)


@pytest.mark.parametrize(
    "sentence, tokens",
    [
        ("A person opens the door.", ["a", "person", "opens", "the", "door", "."]),
        (
            "Person #1 doesn't sit, then laughs!",
            ["person", "#", "1", "does", "n't", "sit", ",", "then", "laughs", "!"],
        ),
        ("the person's walk-in closet", ["the", "person", "'s", "walk-in", "closet"]),
        ("he/she opens the door.the light", ["he/she", "opens", "the", "door.the", "light"]),
        ("  double  spaces ", ["double", "spaces"]),
        (
            "A person drinks a café crème.",
            ["a", "person", "drinks", "a", "café", "crème", "."],
        ),  # letters of any script
    ],
)
def test_tokenize(sentence, tokens):
    assert tokenize(sentence) == tokens


def test_vocabulary_keeps_the_most_common_in_frequency_order_and_drops_the_rest():
    vocab = Vocabulary.from_counts(Counter({"the": 5, ".": 9, "door": 2, "rare": 1}), size=3)
    assert vocab.words == (".", "the", "door") and len(vocab) == 4
    ids, kept = vocab.encode(["the", "rare", "door", "."])
    assert ids == [2, 3, 1] and kept == ["the", "door", "."]
    with pytest.raises(ValueError):
        Vocabulary.from_counts({"a": 1}, 0)


def test_masking_weights_content_two_function_one():
    weights = masking_weights(["a", "person", "is", "opening", "the", "door", "with", "1", "."])
    np.testing.assert_array_equal(weights, [1, 2, 2, 2, 1, 2, 1, 1, 1])


def test_word_vectors_text_and_npz_any_dimension(tmp_path):
    words, vectors = ["a", "door", "."], np.arange(15, dtype=np.float32).reshape(3, 5) / 7
    write_word_vectors(tmp_path / "v.txt", words, vectors)
    np.savez(tmp_path / "v.npz", words=np.array(words), vectors=vectors)
    from_text, from_npz = read_word_vectors(tmp_path / "v.txt"), read_word_vectors(tmp_path / "v.npz")
    for table in (from_text, from_npz):
        np.testing.assert_array_equal(np.stack([table[w] for w in words]), vectors)
    matrix = embedding_matrix(Vocabulary(("door", ".")), from_text)
    assert matrix.shape == (3, 5) and not matrix[0].any()
    np.testing.assert_array_equal(matrix[1], vectors[1])


def test_word_vector_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("a 1 2 3\nb 1 2\n")
    with pytest.raises(WordVectorError, match=rf"{bad}:2: 2 numbers, but the first line has 3"):
        read_word_vectors(bad)
    bad.write_text("a 1 2 x\n")
    with pytest.raises(WordVectorError, match=r":1: a value of word 'a' is not a number"):
        read_word_vectors(bad)
    with pytest.raises(WordVectorError, match="no vector for 1 vocabulary word"):
        embedding_matrix(Vocabulary(("zebra",)), {"a": np.zeros(3)})


def test_our_tokenizer_reproduces_cnm_word_counts(real_data):
    """CNM's counter (NLTK tokens over train+test) against ours: 5 of 1,145 words differ, by 19 tokens."""
    sentences = [
        row[3]
        for name in ("cnm_train.json", "cnm_test.json")
        for row in json.loads((real_data / name).read_text())
    ]
    ours = Counter(t for s in sentences for t in tokenize(s))
    reference = read_counts_tsv(real_data / "charades_vocab_counts.tsv")
    differing = {w for w in reference if reference[w] != ours[w]}
    assert len(reference) == 1145 and sum(reference.values()) == 99901
    assert len(differing) <= 5
    assert sum(abs(reference[w] - ours[w]) for w in differing) <= 19


def test_real_glove_text_and_npz_give_identical_vectors(real_data):
    from_text = read_word_vectors(real_data / "charades_glove_vocab.300d.txt")
    from_npz = read_word_vectors(real_data / "charades_glove_vocab.npz")
    assert from_text.keys() == from_npz.keys() and len(from_text) == 1146
    assert all(np.array_equal(from_text[w], from_npz[w]) for w in from_text)
    assert from_text["the"][:3].tolist() == pytest.approx([0.04656, 0.21318, -0.0074364])


def test_only_the_wanted_rows_are_read_and_cached_beside_the_text_file(tmp_path, monkeypatch):
    import cnm_minimal.data.text as text_module
    from cnm_minimal.data.text import vector_cache_path

    small = tmp_path / "small.txt"
    write_word_vectors(small, ["a", "b"], np.ones((2, 2), dtype=np.float32))
    assert set(read_word_vectors(small, {"a"})) == {"a"} and not list(
        tmp_path.glob("*.npz")
    )  # small: no cache
    monkeypatch.setattr(text_module, "CACHE_FROM_BYTES", 0)  # as large as GloVe, for this test

    text = tmp_path / "glove.txt"
    write_word_vectors(text, ["the", "door", "opens", "."], np.arange(12, dtype=np.float32).reshape(4, 3) / 7)
    full = read_word_vectors(text)
    wanted = {"door", ".", "unknown"}
    first = read_word_vectors(text, wanted)
    assert set(first) == {"door", "."} and all(np.array_equal(first[w], full[w]) for w in first)
    cache = vector_cache_path(text, wanted)
    assert cache.is_file() and cache.parent == tmp_path
    text.write_text(
        text.read_text().replace("door", "doors")
    )  # another file: another cache, never the old one
    assert vector_cache_path(text, wanted) != cache
    assert set(read_word_vectors(text, wanted)) == {"."}
    second = read_word_vectors(cache)
    assert set(second) == {"door", "."} and all(np.array_equal(second[w], full[w]) for w in second)


def test_a_read_only_folder_only_loses_the_cache(tmp_path, monkeypatch):
    import cnm_minimal.data.text as text_module

    monkeypatch.setattr(text_module, "CACHE_FROM_BYTES", 0)
    text = tmp_path / "glove.txt"
    write_word_vectors(text, ["a", "b"], np.ones((2, 2), dtype=np.float32))

    def refuse(path):
        raise PermissionError(f"{path}: read-only")

    monkeypatch.setattr(text_module, "atomic_path", refuse)
    assert set(read_word_vectors(text, {"a"})) == {"a"}
    assert not list(tmp_path.glob("*.npz"))
