"""Where the files of a data set live, and loading its splits (chapter 2).

The real Charades-STA and the simulator's output differ only in file names; both are described by a
:class:`DatasetFiles`, and :func:`load_split` turns one split into a :class:`MomentDataset` with the
same code. :func:`prepare_splits` is what training reads: the vocabulary of the training sentences, the
train / validation / test splits (validation carved from train by video when the data set has none) and
the word vectors of the vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cnm_minimal.data.annotations import (
    CHARADES_CD_POLICY,
    CNM_POLICY,
    AnnotationPolicy,
    AnnotationReport,
    Query,
    read_charades_sta,
    read_durations,
    read_json_annotations,
)
from cnm_minimal.data.dataset import MomentDataset, play_backwards
from cnm_minimal.data.download import file_sha256
from cnm_minimal.data.features import FeatureStore
from cnm_minimal.data.root import data_root, word_vectors_path
from cnm_minimal.data.text import Vocabulary, embedding_matrix, read_word_vectors, tokenize


@dataclass(frozen=True)
class DatasetFiles:
    """Paths of one data set: an annotation file per split, durations, features and word vectors."""

    annotations: dict[str, Path]
    durations: tuple[Path, ...]
    features: Path
    word_vectors: Path
    feature_layout: str = "flat"
    policy: AnnotationPolicy = field(default=CNM_POLICY)
    split_policies: dict[str, AnnotationPolicy] = field(
        default_factory=dict
    )  # splits read with another policy
    held_out: tuple[
        str, ...
    ] = ()  # test splits of another annotation set: queries on train/val videos left out

    @classmethod
    def simulated(cls, root) -> DatasetFiles:
        """The simulator's layout (``python -m cnm_minimal simulate``), e.g.
        ``data_samples/charades-sta-sim``: ``annotations_<split>.txt`` in the Charades-STA text format (named
        apart from the real files, so that a simulated file is never mistaken for a real one),
        ``durations.csv``, ``features.hdf5``, ``word_vectors.txt``."""
        root = Path(root)
        splits = {p.stem.removeprefix("annotations_"): p for p in sorted(root.glob("annotations_*.txt"))}
        if not splits:
            raise FileNotFoundError(
                f"{root}: no annotations_<split>.txt files (make data-samples writes the sample)"
            )
        return cls(splits, (root / "durations.csv",), root / "features.hdf5", root / "word_vectors.txt")

    @classmethod
    def charades_sta(cls, root=None, features=None, word_vectors=None) -> DatasetFiles:
        """The real files where ``python -m cnm_minimal download`` (annotations, GloVe) and its ``how-to
        charades-i3d`` steps (features, default ``root/i3d_features.hdf5``) put them; ``root`` defaults to
        ``charades-sta/`` in the data root, the word vectors to
        :func:`cnm_minimal.data.root.word_vectors_path`."""
        root = Path(root) if root else data_root() / "charades-sta"
        return cls(
            {split: root / f"charades_sta_{split}.txt" for split in ("train", "test")},
            (root / "Charades_v1_train.csv", root / "Charades_v1_test.csv"),
            Path(features) if features else root / "i3d_features.hdf5",
            Path(word_vectors) if word_vectors else word_vectors_path(),
        )

    @classmethod
    def cnm_json(cls, root, features, word_vectors, feature_layout: str = "flat") -> DatasetFiles:
        """The authors' split files in ``root``: ``cnm_train.json`` / ``cnm_test.json`` (Charades-STA, as
        ``download get charades-sta`` names them) or ``train_data.json`` / ``val_data.json`` /
        ``test_data.json`` (ActivityNet Captions, CNM's names; their list format or the original ``{vid:
        {...}}`` one)."""
        root = Path(root)
        names = {"train": "cnm_train.json", "test": "cnm_test.json"}
        if not (root / names["train"]).is_file():
            names = {
                s: f"{s}_data.json" for s in ("train", "val", "test") if (root / f"{s}_data.json").is_file()
            }
        if "train" not in names:
            raise FileNotFoundError(
                f"{root}: no cnm_train.json (Charades-STA) and no train_data.json (ActivityNet)"
            )
        return cls(
            {s: root / n for s, n in names.items()},
            (),
            root / features,
            Path(word_vectors),
            feature_layout,
            AnnotationPolicy(end_after_duration="drop", start_after_end="drop"),
        )

    @classmethod
    def charades_cd(cls, root, features, word_vectors) -> DatasetFiles:
        """Charades-CD (Yuan et al. 2021): ``charades_{train,val,test_iid,test_ood}.json`` in ``root``. The
        run's test split is the out-of-distribution one (``test``), the in-distribution one is evaluated
        beside it (``test_iid``); queries that end after the video are clipped to it (``CHARADES_CD_POLICY``,
        counted)."""
        root = Path(root)
        names = {
            "train": "charades_train.json",
            "val": "charades_val.json",
            "test": "charades_test_ood.json",
            "test_iid": "charades_test_iid.json",
        }
        return cls(
            {s: root / n for s, n in names.items()},
            (),
            root / features,
            Path(word_vectors),
            "flat",
            CHARADES_CD_POLICY,
        )

    @classmethod
    def detect(
        cls, root, features: str = "", word_vectors: str = "", feature_layout: str = "flat"
    ) -> DatasetFiles:
        """The simulator's layout if ``root`` has ``annotations_<split>.txt`` files, Charades-CD's files
        (:meth:`charades_cd`), else the authors' json splits (:meth:`cnm_json`), with ``features`` (a file
        name in ``root``, or a path: timeline features live apart from the annotations) and ``word_vectors``
        (a path)."""
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(
                f"{root}: no such data folder (make data-samples writes the sample; "
                "python -m cnm_minimal download get charades-sta the real annotations)"
            )
        if any(root.glob("annotations_*.txt")):
            files = cls.simulated(root)
            return cls(
                files.annotations,
                files.durations,
                root / features if features else files.features,
                Path(word_vectors) if word_vectors else files.word_vectors,
                feature_layout,
            )
        known = ("cnm_train.json", "train_data.json", "charades_train.json")
        if not any((root / name).is_file() for name in known):
            raise FileNotFoundError(
                f"{root}: no annotation files (annotations_train.txt of the simulated layout, "
                "cnm_train.json, train_data.json or charades_train.json); fetch the real ones with "
                "`python -m cnm_minimal download get charades-sta` or write the sample with "
                "`make data-samples`"
            )
        if not features:
            raise ValueError(
                f"{root}: real data needs the feature file's name (--feature-file i3d_features.hdf5)"
            )
        if (root / "charades_test_ood.json").is_file():
            return cls.charades_cd(root, features, word_vectors)
        return cls.cnm_json(root, features, word_vectors, feature_layout)

    def with_charades_cd(self, root) -> DatasetFiles:
        """These files plus Charades-CD's two test splits (``cd_test_iid``, ``cd_test_ood``), read with its
        policy and evaluated beside the run's own test split. Most Charades-CD test videos are training videos
        of CNM's split, so :func:`prepare_splits` leaves out (and counts) their queries on the run's train and
        val videos."""
        extra = {f"cd_{split}": Path(root) / f"charades_{split}.json" for split in ("test_iid", "test_ood")}
        for path in extra.values():
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path}: no such file (--cd-splits names a folder with Charades-CD's files)"
                )
        return replace(
            self,
            annotations=self.annotations | extra,
            split_policies=self.split_policies | dict.fromkeys(extra, CHARADES_CD_POLICY),
            held_out=self.held_out + tuple(extra),
        )

    def fingerprint(self) -> dict:
        """What the data of a run was: the SHA-256 of each annotation file, the feature file's name and
        size."""
        return {
            "annotations": {
                split: {"file": p.name, "sha256": file_sha256(p)} for split, p in self.annotations.items()
            },
            "features": {"file": self.features.name, "bytes": self.features.stat().st_size},
            "word_vectors": self.word_vectors.name,
        }

    def queries(self, split: str) -> tuple[list[Query], AnnotationReport]:
        if split not in self.annotations:
            raise KeyError(f"no split {split!r}; this data set has {sorted(self.annotations)}")
        path, policy = self.annotations[split], self.split_policies.get(split, self.policy)
        if path.suffix == ".json":
            return read_json_annotations(path, policy)
        return read_charades_sta(path, read_durations(*self.durations), policy)


def load_split(
    files: DatasetFiles,
    split: str,
    vocabulary: Vocabulary,
    num_clips: int,
    feature_dim: int,
    max_words: int = 20,
    cache_features: bool = False,
) -> MomentDataset:
    """One split as a :class:`MomentDataset`; the vocabulary is built by the caller (from training
    sentences)."""
    queries, _ = files.queries(split)
    store = FeatureStore(files.features, layout=files.feature_layout)
    return MomentDataset(queries, store, vocabulary, feature_dim, num_clips, max_words, cache_features)


def embeddings_for(files: DatasetFiles, vocabulary: Vocabulary):
    """The ``[K + 1, Dw]`` word-vector matrix of ``vocabulary`` from the data set's vector file."""
    if not files.word_vectors.name:
        raise ValueError(
            "training on real data needs word vectors (--word-vectors DATA/glove/glove.6B.300d.txt)"
        )
    return embedding_matrix(
        vocabulary, read_word_vectors(files.word_vectors, vocabulary.words), str(files.word_vectors)
    )


def carve_validation(queries: list[Query], fraction: float, seed: int) -> tuple[list[Query], list[Query]]:
    """Split training queries by video (no video in both parts): ``(train, val)``."""
    videos = sorted({q.vid for q in queries})
    chosen = set(np.random.default_rng(seed).permutation(videos)[: max(1, round(fraction * len(videos)))])
    return [q for q in queries if q.vid not in chosen], [q for q in queries if q.vid in chosen]


@dataclass
class PreparedData:
    """What a run trains and is evaluated on."""

    files: DatasetFiles
    vocabulary: Vocabulary
    embeddings: np.ndarray  # [V, Dw], row 0 (padding) zero
    splits: dict[str, MomentDataset]  # train, val, test
    feature_dim: int
    without_vector: tuple[str, ...] = ()  # training words left out of the vocabulary: no word vector


def prepare_splits(
    files: DatasetFiles,
    kept_words: int,
    num_clips: int,
    max_words: int,
    val_fraction: float = 0.1,
    seed: int = 0,
    cache_features: bool = True,
    reverse_fraction: float = 0.0,
) -> PreparedData:
    """The vocabulary (the ``kept_words`` most frequent training words that have a vector) and the three
    splits of a data set; each split's report counts what the annotation policy and the vocabulary dropped.
    ``reverse_fraction``: that share of the training videos is played backwards (:func:`play_backwards`)."""
    rows = {split: files.queries(split) for split in files.annotations}
    if "val" not in rows:
        train, val = carve_validation(rows["train"][0], val_fraction, seed)
        rows |= {"train": (train, rows["train"][1]), "val": (val, AnnotationReport())}
    seen = {q.vid for split in ("train", "val") for q in rows[split][0]}
    for split in files.held_out:
        queries, report = rows[split]
        report.dropped += [
            (q.where, "video in the run's train or val split") for q in queries if q.vid in seen
        ]
        rows[split] = ([q for q in queries if q.vid not in seen], report)
    if not files.word_vectors.name:
        raise ValueError(
            "training on real data needs word vectors (--word-vectors DATA/glove/glove.6B.300d.txt)"
        )
    sentences = [q.sentence for q in rows["train"][0]]
    tokens = {t for s in sentences for t in tokenize(s)}
    table = read_word_vectors(files.word_vectors, tokens)  # only the training words' rows (cached for GloVe)
    vocabulary = Vocabulary.from_sentences(sentences, kept_words, known=table)
    without = sorted(tokens - set(table))
    store = FeatureStore(files.features, files.feature_layout)
    if not rows["train"][0]:
        raise ValueError(
            f"{files.annotations['train']}: the training split has no usable query ({rows['train'][1]})"
        )
    feature_dim = store.shape(rows["train"][0][0].vid)[1]
    splits = {}
    for name in ["train", "val", "test"] + sorted(set(rows) - {"train", "val", "test"}):
        queries, report = rows[name]
        dataset = MomentDataset(queries, store, vocabulary, feature_dim, num_clips, max_words, cache_features)
        dataset.report.dropped[:0] = report.dropped
        dataset.report.clipped = report.clipped
        if not len(dataset):
            source = files.annotations.get(name, files.annotations["train"])
            raise ValueError(f"{source}: the {name} split has no usable query ({dataset.report})")
        splits[name] = dataset
    if reverse_fraction:
        play_backwards(splits["train"], reverse_fraction, seed)
    return PreparedData(
        files,
        vocabulary,
        embedding_matrix(vocabulary, table, str(files.word_vectors)),
        splits,
        feature_dim,
        tuple(without),
    )
