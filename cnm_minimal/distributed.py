"""Data parallelism over several processes (``torchrun``; chapter 13).

Every process holds the whole model, reads its own share of each batch and computes its gradients; before
each optimiser step the gradients are averaged over the processes, so all of them take the same step and
keep the same parameters. This is what ``DistributedDataParallel`` does inside; CNM's two alternating steps,
each with its own frozen parameters and no single ``forward``, do not fit its wrapper, so the averaging is
written out here. The entry point (``python -m cnm_minimal train``) joins the process group with
:func:`setup` and leaves it with :func:`teardown`.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def setup() -> tuple[int, int]:
    """``(rank, world size)``; under ``torchrun`` (``WORLD_SIZE`` > 1) join the process group, NCCL on GPUs,
    gloo on CPUs."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return rank_and_world()


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes (``(0, 1)`` outside a process group)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def teardown() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_parameters(model: torch.nn.Module) -> None:
    """Every process starts from rank 0's parameters."""
    if rank_and_world()[1] > 1:
        for tensor in model.state_dict().values():
            dist.broadcast(tensor, src=0)


def average_gradients(parameters) -> None:
    """Average this step's gradients over the processes (one all-reduce of one flat buffer)."""
    world = rank_and_world()[1]
    if world == 1:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    for g, part in zip(grads, flat.split([g.numel() for g in grads])):
        g.copy_(part.view_as(g))


def ranks_in_sync(model: torch.nn.Module) -> bool:
    """True when every process holds the same parameters (a float64 checksum, gathered from all of them)."""
    world = rank_and_world()[1]
    if world == 1:
        return True
    checksum = torch.stack([p.detach().double().sum() for p in model.parameters()])
    checksum = checksum.to(next(model.parameters()).device)
    gathered = [torch.zeros_like(checksum) for _ in range(world)]
    dist.all_gather(gathered, checksum)
    return all(torch.equal(gathered[0], g) for g in gathered[1:])


def barrier() -> None:
    if rank_and_world()[1] > 1:
        dist.barrier()


def train_loader(dataset, batch_size: int, collate, seed: int, **options) -> torch.utils.data.DataLoader:
    """Shuffled training batches; under torchrun each process reads its own share (a distributed sampler) in
    batches of ``batch_size / world size``, so the global batch stays ``batch_size``."""
    rank, world = rank_and_world()
    if world == 1:
        return torch.utils.data.DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=True,
            collate_fn=collate,
            generator=torch.Generator().manual_seed(seed),
            **options,
        )
    sampler = torch.utils.data.DistributedSampler(dataset, world, rank, shuffle=True, seed=seed)
    return torch.utils.data.DataLoader(
        dataset, batch_size=max(batch_size // world, 1), sampler=sampler, collate_fn=collate, **options
    )
