"""Seconds per training iteration at the authors' Charades-STA shape: our trainer against an authors'-style
step.

Shape: batch 128 and 32, 200 clips x 1024-d features, 300-d words, 7 words per sentence, 1112 output words,
d = 256, 4 heads, 3 + 3 layers (the authors' configuration). One iteration is both alternating steps.

* ``ours``: the trainer of chapter 9, i.e. the model's own objectives (step A: L_rec with the positive and
  hard reconstructions; step B: the generator trunk and the hard reconstruction without gradients, only the
  head learning);
* ``ours-bf16``: the same with bfloat16 autocast (``--amp``; on a CPU it needs bfloat16 instructions);
* ``authors'-style``: the same model run the way the authors' code runs it: both steps do the full forward
  with all three reconstructions, and back-propagate through the whole network (their step B did so through
  the in-place start-token write), clipping over all parameters; attention as explicit matrix products and
  torch's dropout, as in their modules.

Each row also gives the matrix-product FLOPs of one iteration (``torch.utils.flop_counter``; the fused
attention kernels are not counted) and the rate attained: the authors'-style step does about 1.7x the work of
ours, and on a CPU ours runs close to the machine's matrix-product rate, so the FLOPs bound what any further
fp32 tuning can buy. Every configuration runs in its own subprocess, so the peak memory (CPU: max RSS; CUDA:
max allocated) is its own. Usage: python benchmarks/train_step.py [--device cpu|cuda] [--threads 2] [--batches
128 32] [--iters 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from types import SimpleNamespace

import torch
from torch.utils.flop_counter import FlopCounterMode

from cnm_minimal import dropout as dropout_module
from cnm_minimal import resume, train
from cnm_minimal.attention import set_attention_path
from cnm_minimal.config import TrainConfig
from cnm_minimal.data.dataset import Batch
from cnm_minimal.data.files import PreparedData


def synthetic_batch(batch: int, words: int = 7, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 1112, (batch, words), generator=g)
    return Batch(
        frames=torch.randn(batch, 200, 1024, generator=g),
        words=torch.randn(batch, words + 1, 300, generator=g),
        word_ids=ids,
        lengths=torch.full((batch,), words),
        weights=torch.ones(batch, words) * 2,
        moments=torch.rand(batch, 2, generator=g).sort(1).values,
        durations=torch.full((batch,), 30.0),
        index=torch.arange(batch),
    )


def authors_style_iteration(run: resume.Run, batch: Batch) -> None:
    """Both steps: full forward with three reconstructions, backward through everything, clip all parameters;
    attention written out with explicit matrix products (the from-scratch path, as their fairseq-style module
    does) and torch's own dropout (see :func:`use_torch_dropout`)."""
    model = run.model
    for loss_name, optimizer in (
        ("rec_loss", run.optimizers["reconstructor"]),
        ("ivc_loss", run.optimizers["generator"]),
    ):
        out = model(batch.frames, batch.words, batch.word_ids, batch.lengths, batch.weights, rng=run.word_rng)
        model.zero_grad(set_to_none=True)
        getattr(out, loss_name).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()


def use_torch_dropout() -> None:
    """Make the package's dropout modules call ``torch.nn.functional.dropout``, as the authors' code does."""
    dropout_module.dropout = lambda x, p, training: torch.nn.functional.dropout(x, p, training)


def measure(variant: str, batch_size: int, device: str, iters: int) -> dict:
    config = TrainConfig.build(
        num_clips=200,
        hidden=256,
        heads=4,
        video_layers=3,
        query_layers=3,
        batch_size=batch_size,
        device=device,
        save_checkpoints=False,
        amp=variant == "ours-bf16",
    )
    fake_train = SimpleNamespace(queries=[SimpleNamespace(moment=(0.2, 0.5))])  # for the constant window only
    data = PreparedData(
        None, [None] * 1112, torch.zeros(1112, 300).numpy(), {"train": fake_train}, 1024
    )  # V = 1112
    run = train.start_run(config, data)
    if variant == "authors-style":
        use_torch_dropout()
        set_attention_path(run.model, fast=False)
    batch = synthetic_batch(batch_size).to(run.device)

    def ours():
        train.reconstructor_step(run, batch)
        train.generator_step(run, batch)

    step = (lambda: authors_style_iteration(run, batch)) if variant == "authors-style" else ours
    trainer = run
    trainer.model.train()
    step()  # warm-up
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        step()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    with FlopCounterMode(display=False) as counter:  # one more step, counted, not timed
        step()
    flops = counter.get_total_flops()
    trainer.model.eval()
    with torch.no_grad():
        trainer.model.predict(batch.frames, batch.words, batch.lengths)
        start = time.perf_counter()
        trainer.model.predict(batch.frames, batch.words, batch.lengths)
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        eval_s = time.perf_counter() - start
    peak = (
        torch.cuda.max_memory_allocated()
        if trainer.device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    seconds = sorted(times)[len(times) // 2]
    return {
        "variant": variant,
        "batch": batch_size,
        "device": str(trainer.device),
        "threads": torch.get_num_threads(),
        "s_per_iteration": seconds,
        "samples_per_s": batch_size / seconds,
        "eval_forward_s": eval_s,
        "matmul_gflop_per_iteration": flops / 1e9,
        "attained_gflops": flops / 1e9 / seconds,
        "peak_memory_gb": peak / 1e9,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[128, 32])
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    parser.add_argument("--one", nargs=2, metavar=("VARIANT", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), args.device, args.iters)))
        return
    rows = []
    for batch in args.batches:
        for variant in ("ours", "ours-bf16", "authors-style"):
            command = [
                sys.executable,
                __file__,
                "--device",
                args.device,
                "--threads",
                str(args.threads),
                "--iters",
                str(args.iters),
                "--one",
                variant,
                str(batch),
            ]
            rows.append(
                json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            )
            r = rows[-1]
            print(
                f"batch {batch:4d} {variant:14s} {r['s_per_iteration']:7.2f} s/iteration  "
                f"{r['samples_per_s']:7.1f} "
                f"samples/s  eval {r['eval_forward_s']:6.2f} s  peak {r['peak_memory_gb']:5.2f} GB  "
                f"{r['matmul_gflop_per_iteration']:6.0f} GFLOP ({r['attained_gflops']:5.1f} GFLOP/s)  "
                f"({r['device']}, "
                f"{r['threads']} threads)",
                flush=True,
            )
        theirs = rows[-1]
        for ours in rows[-3:-1]:
            print(
                f"batch {batch:4d} {ours['variant']}: speed-up "
                f"{theirs['s_per_iteration'] / ours['s_per_iteration']:.2f}x, "
                f"memory {ours['peak_memory_gb'] / theirs['peak_memory_gb']:.2f}x of the authors'-style step",
                flush=True,
            )
    if args.json:
        import platform

        from cnm_minimal.atomic import write_json
        from cnm_minimal.checkpoints import provenance

        write_json(
            args.json,
            {
                "provenance": provenance(0, torch.device(args.device))
                | {"machine": platform.machine(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")},
                "rows": rows,
            },
        )


if __name__ == "__main__":
    main()
