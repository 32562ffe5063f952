"""MomentDataset and Collate (cnm_minimal/data/dataset.py), on the committed simulated sample."""

from pathlib import Path

import numpy as np
import pytest
import torch

from cnm_minimal.data.annotations import Query
from cnm_minimal.data.dataset import Collate, MomentDataset
from cnm_minimal.data.features import FeatureError, FeatureStore, write_features
from cnm_minimal.data.files import DatasetFiles, embeddings_for, load_split
from cnm_minimal.data.text import Vocabulary

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "charades-sta-sim"


@pytest.fixture(scope="module")
def sample():
    files = DatasetFiles.simulated(SAMPLE)
    train, _ = files.queries("train")
    vocab = Vocabulary.from_sentences([q.sentence for q in train], 1000)
    return files, vocab, embeddings_for(files, vocab)


def test_batch_shapes_and_contents(sample):
    files, vocab, embeddings = sample
    dataset = load_split(files, "train", vocab, num_clips=32, feature_dim=64)
    batch = Collate(embeddings)([dataset[i] for i in range(5)])
    lengths = batch.lengths.tolist()
    longest = max(lengths)
    assert batch.frames.shape == (5, 32, 64) and batch.frames.dtype == torch.float32
    assert batch.words.shape == (5, longest + 1, 300)
    assert batch.word_ids.shape == batch.weights.shape == (5, longest)
    assert not batch.words[:, 0].any()  # slot 0: the start token's place
    for b, n in enumerate(lengths):
        ids = batch.word_ids[b]
        assert (ids[:n] > 0).all() and not ids[n:].any() and not batch.weights[b, n:].any()
        assert set(batch.weights[b, :n].tolist()) <= {1.0, 2.0}
        np.testing.assert_array_equal(batch.words[b, 1 : n + 1], embeddings[ids[:n].numpy()])
        assert not batch.words[b, n + 1 :].any()
    query = dataset.queries[int(batch.index[0])]
    np.testing.assert_allclose(batch.moments[0].numpy(), query.moment, rtol=1e-6)
    np.testing.assert_array_equal(batch.frames[0].numpy(), dataset.features.load(query.vid, 32))


def test_dataloader_with_workers_opens_its_own_file(sample):
    files, vocab, embeddings = sample
    dataset = load_split(files, "val", vocab, num_clips=16, feature_dim=64)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=16, num_workers=2, collate_fn=Collate(embeddings)
    )
    assert sum(len(b) for b in loader) == len(dataset)


def test_all_out_of_vocabulary_queries_are_dropped_and_listed(tmp_path):
    write_features(tmp_path / "f.hdf5", {"AAA01": np.ones((10, 4))})
    queries = [
        Query("AAA01", 10.0, 0, 5, "the door.", "ann.txt", 1),
        Query("AAA01", 10.0, 1, 2, "zzz qqq", "ann.txt", 2),
        Query("AAA01", 10.0, 1, 2, "zzqx qqwx.", "ann.txt", 3),
    ]  # only "." is known: nothing to rebuild
    dataset = MomentDataset(
        queries, FeatureStore(tmp_path / "f.hdf5"), Vocabulary(("door", ".")), 4, num_clips=4
    )
    assert len(dataset) == 1
    assert dataset.report.dropped == [
        ("ann.txt:2", "no known content word"),
        ("ann.txt:3", "no known content word"),
    ]


def test_construction_checks_missing_videos_and_width(tmp_path):
    write_features(tmp_path / "f.hdf5", {"AAA01": np.ones((10, 4))})
    store = FeatureStore(tmp_path / "f.hdf5")
    queries = [Query(v, 10.0, 0, 5, "door", "a", 1) for v in ("AAA01", "BBB02", "CCC03")]
    with pytest.raises(
        FeatureError,
        match="2 annotated video.*\n  no features for video BBB02\n  no features for video CCC03",
    ):
        MomentDataset(queries, store, Vocabulary(("door",)), 4)
    with pytest.raises(FeatureError, match=r"video AAA01 has shape \[10, 4\], expected \[T >= 1, 1024\]"):
        MomentDataset(queries[:1], store, Vocabulary(("door",)), 1024)


def test_collate_rejects_embeddings_without_a_zero_padding_row():
    with pytest.raises(ValueError, match="row 0"):
        Collate(np.ones((3, 2)))


def test_the_real_files_go_through_the_same_code(real_data):
    """Real annotations, CNM's vocabulary and its GloVe vectors: the path a reader with the data takes."""
    from cnm_minimal.data.text import read_counts_tsv

    files = DatasetFiles.charades_sta(real_data, word_vectors=real_data / "charades_glove_vocab.300d.txt")
    train, report = files.queries("train")
    test, _ = files.queries("test")
    assert (len(train), len(test)) == (10602, 3158) and report.kept == 10602
    vocab = Vocabulary.from_counts(read_counts_tsv(real_data / "charades_vocab_counts.tsv"), 1111)
    embeddings = embeddings_for(files, vocab)
    assert embeddings.shape == (1112, 300) and not embeddings[0].any()
    assert vocab.words[:3] == (".", "person", "a")
