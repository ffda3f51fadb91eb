"""Independent CPU-bound jobs (GrabCut framing of thousands of photos) on every core, answers in order."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence, TypeVar

from piclassify.shared.inference.runtime import usable_cores

Job = TypeVar("Job")
Answer = TypeVar("Answer")


def map_on_cores(function: Callable[[Job], Answer], jobs: Sequence[Job], chunksize: int = 16) -> list[Answer]:
    """``[function(job) for job in jobs]``, spread over the usable cores when there is enough work.

    ``function`` must be a module-level function. Workers are spawned, not forked: the trainer may
    have TensorFlow loaded, whose threads do not survive a fork.
    """
    workers = min(usable_cores(), max(1, len(jobs) // chunksize))
    if workers == 1:
        return [function(job) for job in jobs]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(function, jobs, chunksize=chunksize))
