"""Measured peak memory of the current process (CPU: peak RSS; CUDA: max allocated)."""
from __future__ import annotations

import resource
import sys

import torch


def peak_rss_mib() -> float:
    """High-water resident set size of this process in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / (1024 * 1024)


def peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / (1024 * 1024)
    return peak_rss_mib()


def limit_address_space(extra_gib: float) -> None:
    """Let allocations beyond ``extra_gib`` more than now fail with an error instead of the
    kernel's OOM killer, so a method that does not fit is reported, not fatal."""
    with open("/proc/self/statm") as f:
        virtual = int(f.read().split()[0]) * resource.getpagesize()
    limit = int(virtual + extra_gib * 1024 ** 3)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
