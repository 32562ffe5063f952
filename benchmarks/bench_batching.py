"""Batch assembly throughput: our data path against the authors' way, measured in the same run.

Two baselines, each a faithful miniature of what the authors' data code does per sample:
  * ``open per sample``: the HDF5 file is opened for every sample (the authors' dataset does this);
  * ``loop collate``: padding and word-vector lookup done sample by sample in Python.
Ours opens the file once per process and collates with whole-batch tensor operations.

Usage: python benchmarks/bench_batching.py [DATA_DIR] [--clips 200] [--batch 128] [--repeats 3]
Prints samples/s for each variant and the ratios against the baselines (same data, same machine).
"""

from __future__ import annotations

import argparse
import statistics
import time

import h5py
import numpy as np
import torch

from cnm_minimal.data.dataset import Collate
from cnm_minimal.data.features import resample_clips
from cnm_minimal.data.files import DatasetFiles, embeddings_for, load_split
from cnm_minimal.data.text import Vocabulary


def loop_collate(samples, embeddings: np.ndarray):
    """Baseline: pad and look up word vectors one sample at a time."""
    longest = max(len(s.word_ids) for s in samples)
    words = np.zeros((len(samples), longest + 1, embeddings.shape[1]), dtype=np.float32)
    ids = np.zeros((len(samples), longest), dtype=np.int64)
    weights = np.zeros((len(samples), longest), dtype=np.float32)
    for b, s in enumerate(samples):
        for i, (w, m) in enumerate(zip(s.word_ids, s.weights)):
            words[b, i + 1] = embeddings[w]
            ids[b, i], weights[b, i] = w, m
    frames = np.zeros((len(samples),) + samples[0].frames.shape, dtype=np.float32)
    for b, s in enumerate(samples):
        frames[b] = s.frames
    return torch.from_numpy(frames), torch.from_numpy(words), torch.from_numpy(ids), torch.from_numpy(weights)


def run(dataset, collate, batch: int, open_per_sample: bool) -> float:
    """Samples per second over one pass of the dataset, in batches."""
    start = time.perf_counter()
    for first in range(0, len(dataset), batch):
        samples = []
        for index in range(first, min(first + batch, len(dataset))):
            if open_per_sample:
                q = dataset.queries[index]
                with h5py.File(dataset.features.path, "r") as handle:
                    clips = resample_clips(handle[q.vid][()], dataset.num_clips)
                sample = dataset[index]
                sample = type(sample)(
                    clips, sample.word_ids, sample.weights, sample.moment, sample.duration, index
                )
            else:
                sample = dataset[index]
            samples.append(sample)
        collate(samples)
    return len(dataset) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="data_samples/charades-sta-sim")
    parser.add_argument("--split", default="train")
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    files = DatasetFiles.simulated(args.data)
    train, _ = files.queries("train")
    vocab = Vocabulary.from_sentences([q.sentence for q in train], 1111)
    embeddings = embeddings_for(files, vocab)
    dim = h5py.File(files.features, "r")[train[0].vid].shape[1]
    dataset = load_split(files, args.split, vocab, args.clips, dim)
    ours = Collate(embeddings)
    variants = {
        "ours (open once, vectorised collate)": (ours, False),
        "baseline: loop collate": (lambda s: loop_collate(s, embeddings), False),
        "baseline: open per sample + loop collate": (lambda s: loop_collate(s, embeddings), True),
    }
    print(
        f"{len(dataset)} samples of {args.data} ({args.split}), {args.clips} clips x {dim}-d, batch "
        f"{args.batch}, "
        f"{torch.get_num_threads()} threads; median of {args.repeats} passes"
    )
    run(dataset, ours, args.batch, False)  # warm-up: the first pass pays for a cold file cache
    speed = {}
    for name, (collate, per_sample) in variants.items():
        speed[name] = statistics.median(
            run(dataset, collate, args.batch, per_sample) for _ in range(args.repeats)
        )
        print(f"  {name:45s} {speed[name]:9.0f} samples/s")
    ours_speed = speed["ours (open once, vectorised collate)"]
    for name in list(variants)[1:]:
        print(f"  ours / {name.removeprefix('baseline: ')}: {ours_speed / speed[name]:.2f}x")
    # collate alone, on samples already in memory (what the loader's main process pays per batch)
    samples = [dataset[i] for i in range(min(args.batch, len(dataset)))]
    timings = {}
    for name, collate in (
        ("vectorised collate", ours),
        ("loop collate", lambda s: loop_collate(s, embeddings)),
    ):
        start, rounds = time.perf_counter(), 0
        while time.perf_counter() - start < 1.0:
            collate(samples)
            rounds += 1
        timings[name] = rounds * len(samples) / (time.perf_counter() - start)
        print(f"  collate only, {name:15s} {timings[name]:9.0f} samples/s")
    print(
        f"  collate only, vectorised / loop: {timings['vectorised collate'] / timings['loop collate']:.2f}x"
    )


if __name__ == "__main__":
    main()
