"""Where a run computes: the device, bfloat16 autocast where it pays, the memory a run held (chapter 9)."""

from __future__ import annotations

import contextlib
import sys

import torch

from cnm_minimal import distributed
from cnm_minimal.config import ConfigError


def pick_device(name: str) -> torch.device:
    """``auto``: CUDA if present (under torchrun, the process's own GPU, ``LOCAL_RANK``), else the CPU."""
    if name == "auto":
        return torch.device(
            f"cuda:{distributed.rank_and_world()[0] % torch.cuda.device_count()}"
            if torch.cuda.is_available()
            else "cpu"
        )
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"--device {name!r}: not a device name; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: this machine has no CUDA device; use --device cpu (or auto)")
    try:
        torch.empty(1, device=device)
    except (
        RuntimeError,
        AssertionError,
    ) as error:  # another index than the GPUs, or a backend torch lacks here
        raise ConfigError(
            f"--device {name}: torch cannot use it on this machine ({str(error).splitlines()[0]}); "
            "use --device cpu (or auto)"
        ) from None
    return device


def bf16_is_fast(device: torch.device) -> bool:
    """bfloat16 pays on CUDA and on CPUs with bfloat16 units (AVX512-BF16, AMX); elsewhere it is emulated and
    several times slower than float32 (measured on an AVX2 CPU: 5x slower per training step)."""
    if device.type == "cuda":
        return True
    return device.type == "cpu" and (
        torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    )


def autocast(device: torch.device, amp: bool | str):
    """bfloat16 autocast where ``amp`` asks for it (``"auto"``: only where it is faster)."""
    if bf16_is_fast(device) if amp == "auto" else amp:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def peak_memory_gb(device: torch.device) -> float | None:
    """The most memory the run has held so far: on CUDA the allocator's peak on the device, else the process's
    peak resident set (kilobytes on Linux, bytes on macOS; ``None`` on Windows, which has no ``resource``
    module)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1e9
    try:
        import resource
    except ImportError:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1e9 if sys.platform == "darwin" else 1e6)
