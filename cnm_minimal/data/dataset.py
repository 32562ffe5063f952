"""From annotations and features to the tensors the model takes (chapter 2).

:class:`MomentDataset` pairs each query with its video's clip features (resampled to N clips) and its
sentence as word ids and masking weights; :class:`Collate` stacks samples into a :class:`Batch`:

* ``frames``   ``[B, N, D]``  clip features (every video has exactly N clips: no frame padding);
* ``words``    ``[B, L+1, Dw]`` word vectors; slot 0 is reserved for the start token (zeros here, the
  model writes its learned start vector there), slots ``1..l`` hold the sentence, the rest are zeros;
* ``word_ids`` ``[B, L]`` the targets ``w_1..w_l`` (0 = padding), ``lengths`` ``[B]`` the l's;
* ``weights``  ``[B, L]`` masking weights (2 content, 1 function word, 0 padding);
* ``moments``  ``[B, 2]`` normalised ground truth (used only for evaluation), ``durations``, ``index``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from cnm_minimal.data.annotations import AnnotationReport, Query
from cnm_minimal.data.features import FeatureStore
from cnm_minimal.data.text import Vocabulary, masking_weights, tokenize


@dataclass
class Batch:
    frames: torch.Tensor
    words: torch.Tensor
    word_ids: torch.Tensor
    lengths: torch.Tensor
    weights: torch.Tensor
    moments: torch.Tensor
    durations: torch.Tensor
    index: torch.Tensor

    def to(self, device, non_blocking: bool = False) -> Batch:
        return Batch(
            **{f.name: getattr(self, f.name).to(device, non_blocking=non_blocking) for f in fields(self)}
        )

    def __len__(self) -> int:
        return self.frames.shape[0]


@dataclass(frozen=True)
class Sample:
    frames: np.ndarray  # [N, D] float32
    word_ids: np.ndarray  # [l] int64
    weights: np.ndarray  # [l] float32
    moment: tuple[float, float]
    duration: float
    index: int


class MomentDataset(torch.utils.data.Dataset):
    """Queries with their features and encoded sentences; checks everything once, at construction.

    Queries with no content word in the vocabulary cannot be reconstructed: they are dropped, counted and
    listed in ``report`` (``report.dropped`` holds ``(file:line, reason)``). The features of every video are
    checked (present, the right width, finite values) before anything else, so a bad file fails at once.
    """

    def __init__(
        self,
        queries: Sequence[Query],
        features: FeatureStore,
        vocabulary: Vocabulary,
        feature_dim: int,
        num_clips: int = 200,
        max_words: int = 20,
        cache_features: bool = False,
    ):
        self.features, self.num_clips, self.cache_features = features, num_clips, cache_features
        features.check((q.vid for q in queries), feature_dim)
        self.report = AnnotationReport()
        self.queries, self._ids, self._weights = [], [], []
        for q in queries:
            ids, kept = vocabulary.encode(tokenize(q.sentence))
            if not (masking_weights(kept) == 2.0).any():  # nothing left to reconstruct from the video
                self.report.dropped.append((q.where, "no known content word"))
                continue
            self.queries.append(q)
            self._ids.append(np.array(ids[:max_words], dtype=np.int64))
            self._weights.append(masking_weights(kept[:max_words]))
        self.report.kept = len(self.queries)
        self._cache: dict[str, np.ndarray] = {}
        self.reversed_videos: frozenset[str] = frozenset()  # played backwards: see :func:`play_backwards`

    def __len__(self) -> int:
        return len(self.queries)

    def clips(self, vid: str) -> np.ndarray:
        """The video's ``[num_clips, D]`` features (kept in memory if ``cache_features``)."""
        if vid in self._cache:
            return self._cache[vid]
        clips = self.features.load(vid, self.num_clips)
        if self.cache_features:
            self._cache[vid] = clips
        return clips

    def __getitem__(self, index: int) -> Sample:
        q = self.queries[index]
        if q.vid in self.reversed_videos:  # clips in reverse order, the moment mirrored
            start, end = q.moment
            return Sample(
                self.clips(q.vid)[::-1].copy(),
                self._ids[index],
                self._weights[index],
                (1 - end, 1 - start),
                q.duration,
                index,
            )
        return Sample(self.clips(q.vid), self._ids[index], self._weights[index], q.moment, q.duration, index)


def play_backwards(dataset: MomentDataset, fraction: float, seed: int) -> frozenset[str]:
    """Play a seeded ``fraction`` of the data set's videos backwards (chapter 10's study of the temporal
    prior).

    With ``fraction=0.5`` on a training split, a moment near the start of its video is as likely to be seen
    near the end: a prior-following model loses its advantage, a model that reads the clips does not. The
    choice is by video (all its queries together), the same on every machine. The queries keep their recorded
    moments (the constant window and the prior-hard set stay those of the data); only what the model is shown
    changes."""
    videos = sorted({q.vid for q in dataset.queries})
    order = np.random.default_rng([seed, 20220]).permutation(len(videos))
    dataset.reversed_videos = frozenset(videos[i] for i in order[: round(fraction * len(videos))])
    return dataset.reversed_videos


class Collate:
    """Stack samples into a :class:`Batch`: padding by one boolean mask and word vectors by one lookup
    for the whole batch (no loop over the samples' words)."""

    def __init__(self, embeddings: np.ndarray | torch.Tensor):
        self.embeddings = np.asarray(embeddings, dtype=np.float32)
        if self.embeddings.ndim != 2 or self.embeddings[0].any():
            raise ValueError("embeddings must be [V, Dw] with row 0 (padding) all zeros")

    def __call__(self, samples: Sequence[Sample]) -> Batch:
        lengths = np.array([len(s.word_ids) for s in samples])
        filled = np.arange(lengths.max()) < lengths[:, None]  # [B, L]: True on real words
        word_ids = np.zeros(filled.shape, dtype=np.int64)
        word_ids[filled] = np.concatenate([s.word_ids for s in samples])
        weights = np.zeros(filled.shape, dtype=np.float32)
        weights[filled] = np.concatenate([s.weights for s in samples])
        words = np.zeros((len(samples), filled.shape[1] + 1, self.embeddings.shape[1]), dtype=np.float32)
        words[:, 1:] = self.embeddings[word_ids]  # slot 0 stays free for the start token
        return Batch(
            frames=torch.from_numpy(np.stack([s.frames for s in samples])),
            words=torch.from_numpy(words),
            word_ids=torch.from_numpy(word_ids),
            lengths=torch.from_numpy(lengths),
            weights=torch.from_numpy(weights),
            moments=torch.tensor([s.moment for s in samples], dtype=torch.float32),
            durations=torch.tensor([s.duration for s in samples], dtype=torch.float32),
            index=torch.tensor([s.index for s in samples]),
        )
