"""Clip features: an HDF5 store read once per process, and resampling to a fixed number of clips (chapter 2).

A video is a sequence of T feature vectors (one per snippet of frames: I3D gives 1024-d vectors for
Charades-STA, C3D 500-d and CLIP 512-d for ActivityNet Captions). The files are HDF5 with one dataset
``[T, D]`` per video id, or, for ActivityNet C3D, a group per video holding ``c3d_features``.

CNM resamples every video to exactly N = 200 clips by averaging consecutive rows (page "The authors' code"):
with boundaries ``b_j = round(j T / N)`` for ``j = 0..N``, clipped to ``T - 1``, clip ``j`` is ``mean(F[b_j :
b_{j+1}])`` when ``b_j < b_{j+1}``, else the single row ``F[b_j]`` (a short video repeats rows). Because of
the clipping, the last raw row is never averaged in when ``b_N`` is clipped; we keep that, as it is what
produced the published numbers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import h5py
import numpy as np

from cnm_minimal.atomic import atomic_path


class FeatureError(ValueError):
    """A feature file or a video's features that cannot be used; the message names the file and video id."""


def clip_boundaries(length: int, num_clips: int) -> np.ndarray:
    """The ``num_clips + 1`` row boundaries, computed as the authors' code computes them: ``j / N * T`` in
    double precision, rounded half to even, clipped to ``T - 1`` (the order of the operations decides the
    ties)."""
    return np.minimum(np.round(np.arange(num_clips + 1) / num_clips * length).astype(np.int64), length - 1)


def resample_clips(features: np.ndarray, num_clips: int) -> np.ndarray:
    """Average a ``[T, D]`` sequence into exactly ``num_clips`` rows with CNM's boundaries (see above)."""
    features = np.asarray(features, dtype=np.float32)
    length = features.shape[0]
    if length < 1 or num_clips < 1:
        raise ValueError(f"cannot resample {length} rows into {num_clips} clips")
    bounds = clip_boundaries(length, num_clips)
    starts, ends = bounds[:-1], bounds[1:]
    cumulative = np.concatenate(
        [np.zeros((1, features.shape[1])), np.cumsum(features, axis=0, dtype=np.float64)]
    )
    counts = ends - starts
    means = (cumulative[ends] - cumulative[starts]) / np.maximum(counts, 1)[:, None]
    return np.where((counts > 0)[:, None], means, features[starts]).astype(np.float32)


class FeatureStore:
    """Read-only access to per-video features in one HDF5 file.

    The file is opened lazily, once per process: a DataLoader worker (a forked process) opens its own
    handle on first use instead of sharing the parent's, and nothing is reopened per sample.
    ``layout="flat"`` reads ``file[vid]``; ``layout="c3d"`` reads ``file[vid]["c3d_features"]``.
    """

    def __init__(self, path, layout: Literal["flat", "c3d"] = "flat"):
        self.path = Path(path)
        if layout not in ("flat", "c3d"):
            raise ValueError(f"layout must be 'flat' or 'c3d', not {layout!r}")
        self.layout = layout
        self._file: h5py.File | None = None
        self._pid: int | None = None
        self._open()  # fail early, with the file's name, if it is missing or not HDF5

    def _open(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            if not self.path.is_file():
                raise FeatureError(f"{self.path}: feature file not found")
            try:
                self._file = h5py.File(self.path, "r")
            except OSError as error:
                raise FeatureError(
                    f"{self.path}: not a readable HDF5 file (truncated or corrupt?): {error}"
                ) from None
            self._pid = os.getpid()
        return self._file

    def __getstate__(self):
        return {"path": self.path, "layout": self.layout, "_file": None, "_pid": None}

    def _dataset(self, vid: str) -> h5py.Dataset:
        handle = self._open()
        if vid not in handle:
            raise FeatureError(f"{self.path}: no features for video {vid}")
        node = handle[vid]
        if self.layout == "c3d":
            if not isinstance(node, h5py.Group) or "c3d_features" not in node:
                raise FeatureError(f"{self.path}: video {vid} has no 'c3d_features' dataset")
            node = node["c3d_features"]
        if not isinstance(node, h5py.Dataset):
            raise FeatureError(f"{self.path}: video {vid} is a group, not a [T, D] dataset (layout 'c3d'?)")
        return node

    def shape(self, vid: str) -> tuple[int, int]:
        shape = self._dataset(vid).shape
        if len(shape) != 2:
            raise FeatureError(f"{self.path}: features of video {vid} have shape {shape}, expected [T, D]")
        return shape

    def problems(self, video_ids: Iterable[str], dim: int, read_values: bool = False) -> list[str]:
        """Everything wrong with the features of ``video_ids``, one line per video: missing, not a
        ``[T >= 1, dim]`` array, or (with ``read_values``, which reads every array) NaN/inf values."""
        found = []
        for vid in sorted(set(video_ids)):
            try:
                shape = self.shape(vid)
                if shape[0] < 1 or shape[1] != dim:
                    found.append(f"video {vid} has shape {list(shape)}, expected [T >= 1, {dim}]")
                elif read_values:
                    self.load(vid)
            except FeatureError as error:
                found.append(str(error).removeprefix(f"{self.path}: "))
        return found

    def check(self, video_ids: Iterable[str], dim: int, read_values: bool = True) -> None:
        """Before training: every video is present, ``[T >= 1, dim]`` and finite; one error lists every
        problem."""
        found = self.problems(video_ids, dim, read_values)
        if found:
            shown = "\n  ".join(found[:50]) + ("\n  ..." if len(found) > 50 else "")
            raise FeatureError(
                f"{self.path}: {len(found)} annotated video(s) have unusable features:\n  {shown}"
            )

    def load(self, vid: str, num_clips: int | None = None) -> np.ndarray:
        """The video's features as float32 ``[T, D]``, or resampled to ``[num_clips, D]``; rejects NaN/inf."""
        try:
            features = self._dataset(vid)[()].astype(np.float32)
        except OSError as error:
            raise FeatureError(f"{self.path}: cannot read video {vid} (truncated file?): {error}") from None
        if not np.isfinite(features).all():
            bad = int((~np.isfinite(features)).any(axis=1).sum())
            raise FeatureError(f"{self.path}: video {vid} has NaN or infinite values in {bad} row(s)")
        return features if num_clips is None else resample_clips(features, num_clips)

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None


def write_features(path, features, layout: Literal["flat", "c3d"] = "flat", dtype=np.float32) -> None:
    """Write ``{vid: [T, D]}`` (or ``(vid, array)`` pairs) to HDF5 atomically (temporary file, then rename).

    Datasets carry no timestamps, so the same arrays give the same bytes."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w", track_order=True) as handle:
        for vid, array in features.items() if isinstance(features, dict) else features:
            target = handle.create_group(vid) if layout == "c3d" else handle
            name = "c3d_features" if layout == "c3d" else vid
            target.create_dataset(name, data=np.asarray(array, dtype=dtype), track_times=False)
