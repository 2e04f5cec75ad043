"""How many CPU threads torch should use, when the user has not said.

Torch starts one thread per core. On a shared machine that oversubscribes the moment anything
else runs: the README's main command took 101-161 s with torch's default beside one other
CPU-bound process, against 24 s with one thread. Small networks gain little from a second
thread even on a quiet machine (an NVDM step at batch 64: 12.6 ms with 2 threads, 13.6 ms
with 1). So the rule, applied by the command line only (a library never changes a process's
threads behind its caller's back):

1. ``--threads N`` is used as given;
2. else ``OMP_NUM_THREADS``, if set, is left to torch, which reads it;
3. else small networks (the bag-of-words models) take 1 thread;
4. else (the LSTM sentence models) every core, unless the machine is busy: its 1-minute load
   average, this process aside, leaves less than one core idle; then 1.
"""

from __future__ import annotations

import os

import torch


def machine_is_busy(cores: int | None = None) -> bool:
    """Whether other processes keep the machine's cores busy (by the 1-minute load average)."""
    cores = cores or os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return False
    return load > cores - 1


def choose_threads(requested: int | None, large_network: bool) -> int | None:
    """The thread count the rule above gives, or None to leave torch's setting alone."""
    if requested:
        return requested
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    if not large_network:
        return 1
    return 1 if machine_is_busy() else torch.get_num_threads()
