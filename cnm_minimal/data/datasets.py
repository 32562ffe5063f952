"""Where the files of a data set live, and loading one split of it (chapter 2).

The real Charades-STA and the simulator's output differ only in file names; both are described by a
:class:`DatasetFiles`, and :func:`load_split` turns one split into a :class:`MomentDataset` with the
same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cnm_minimal.data.annotations import (
    CNM_POLICY, AnnotationPolicy, AnnotationReport, Query, read_charades_sta, read_durations, read_json_annotations,
)
from cnm_minimal.data.batching import MomentDataset
from cnm_minimal.data.features import FeatureStore
from cnm_minimal.data.text import Vocabulary, embedding_matrix, read_word_vectors


@dataclass(frozen=True)
class DatasetFiles:
    """Paths of one data set: an annotation file per split, durations, features and word vectors."""

    annotations: dict[str, Path]
    durations: tuple[Path, ...]
    features: Path
    word_vectors: Path
    feature_layout: str = "flat"
    policy: AnnotationPolicy = field(default=CNM_POLICY)

    @classmethod
    def simulated(cls, root) -> "DatasetFiles":
        """The simulator's layout (``python -m cnm_minimal.data.simulate``), e.g. ``data_samples/charades-sta-sim``:
        ``annotations_<split>.txt`` in the Charades-STA text format (named apart from the real files, so that a
        simulated file is never mistaken for a real one), ``durations.csv``, ``features.hdf5``, ``word_vectors.txt``."""
        root = Path(root)
        splits = {p.stem.removeprefix("annotations_"): p for p in sorted(root.glob("annotations_*.txt"))}
        if not splits:
            raise FileNotFoundError(f"{root}: no annotations_<split>.txt files (make data-samples writes the sample)")
        return cls(splits, (root / "durations.csv",), root / "features.hdf5", root / "word_vectors.txt")

    @classmethod
    def charades_sta(cls, root="data/charades-sta", features=None,
                     word_vectors="data/glove/glove.6B.300d.txt") -> "DatasetFiles":
        """The real files where ``python -m cnm_minimal.data.download`` (annotations, GloVe) and its
        ``how-to charades-i3d`` steps (features, default ``root/i3d_features.hdf5``) put them."""
        root = Path(root)
        return cls({split: root / f"charades_sta_{split}.txt" for split in ("train", "test")},
                   (root / "Charades_v1_train.csv", root / "Charades_v1_test.csv"),
                   Path(features) if features else root / "i3d_features.hdf5", Path(word_vectors))

    @classmethod
    def cnm_json(cls, root, features, word_vectors, feature_layout: str = "flat") -> "DatasetFiles":
        """The authors' split files in ``root``: ``cnm_train.json`` / ``cnm_test.json`` (Charades-STA, as
        ``download get charades-sta`` names them) or ``train_data.json`` / ``val_data.json`` / ``test_data.json``
        (ActivityNet Captions, CNM's names; their list format or the original ``{vid: {...}}`` one)."""
        root = Path(root)
        names = {"train": "cnm_train.json", "test": "cnm_test.json"}
        if not (root / names["train"]).is_file():
            names = {s: f"{s}_data.json" for s in ("train", "val", "test") if (root / f"{s}_data.json").is_file()}
        if "train" not in names:
            raise FileNotFoundError(f"{root}: no cnm_train.json (Charades-STA) and no train_data.json (ActivityNet)")
        return cls({s: root / n for s, n in names.items()}, (), root / features, Path(word_vectors), feature_layout,
                   AnnotationPolicy(end_after_duration="drop", start_after_end="drop"))

    @classmethod
    def detect(cls, root, features: str = "", word_vectors: str = "", feature_layout: str = "flat") -> "DatasetFiles":
        """The simulator's layout if ``root`` has ``annotations_<split>.txt`` files, else the authors' json splits
        (:meth:`cnm_json`), with ``features`` (a file name in ``root``) and ``word_vectors`` (a path)."""
        root = Path(root)
        if any(root.glob("annotations_*.txt")):
            files = cls.simulated(root)
            return cls(files.annotations, files.durations, root / features if features else files.features,
                       Path(word_vectors) if word_vectors else files.word_vectors, feature_layout)
        if not features or not word_vectors:
            raise ValueError(f"{root}: real data needs the feature file name and the word vectors "
                             "(--feature-file i3d_features.hdf5 --word-vectors data/glove/glove.6B.300d.txt)")
        return cls.cnm_json(root, features, word_vectors, feature_layout)

    def queries(self, split: str) -> tuple[list[Query], AnnotationReport]:
        if split not in self.annotations:
            raise KeyError(f"no split {split!r}; this data set has {sorted(self.annotations)}")
        path = self.annotations[split]
        if path.suffix == ".json":
            return read_json_annotations(path, self.policy)
        return read_charades_sta(path, read_durations(*self.durations), self.policy)


def load_split(files: DatasetFiles, split: str, vocabulary: Vocabulary, num_clips: int,
               feature_dim: int, max_words: int = 20, cache_features: bool = False) -> MomentDataset:
    """One split as a :class:`MomentDataset`; the vocabulary is built by the caller (from training sentences)."""
    queries, _ = files.queries(split)
    store = FeatureStore(files.features, layout=files.feature_layout)
    return MomentDataset(queries, store, vocabulary, feature_dim, num_clips, max_words, cache_features)


def embeddings_for(files: DatasetFiles, vocabulary: Vocabulary):
    """The ``[K + 1, Dw]`` word-vector matrix of ``vocabulary`` from the data set's vector file."""
    return embedding_matrix(vocabulary, read_word_vectors(files.word_vectors), str(files.word_vectors))
