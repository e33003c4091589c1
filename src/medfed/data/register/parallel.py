"""Running one step of registration over many inputs on several processes, results in order.

Results come back in the order of the inputs whatever process finished first, so a parallel
registration writes exactly what a serial one writes. At most a few tasks per worker are in
flight, so a large folder is not held in memory waiting for the main process to catch up.

Workers are forked from this process when it runs no other thread (they start in
milliseconds, everything already imported). Forking a process that runs other threads (a
progress display) copies their locks in whatever state they are, which can hang a worker, so
then workers are forked from a server process started once with this package imported; as with
any such pool, a script that registers a folder must then start under
``if __name__ == "__main__":`` (each worker imports the main module), and the first pool takes
about a second to start. Fewer than ``POOL_MIN_INPUTS`` inputs are handled in this process.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from medfed.errors import ConfigError

In = TypeVar("In")
Out = TypeVar("Out")

MAX_DEFAULT_WORKERS = 4
POOL_MIN_INPUTS = 64
_IN_FLIGHT_PER_WORKER = 4


def default_workers() -> int:
    """Processes used when none are asked for: the CPUs, at most ``MAX_DEFAULT_WORKERS``."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def ordered_map(
    fn: Callable[[In], Out], inputs: Sequence[In], workers: int
) -> Generator[Out, None, None]:
    """``fn`` of each input, in input order, on ``workers`` processes (in this one if 1, or
    for fewer than ``POOL_MIN_INPUTS`` inputs).

    ``fn`` must be a module-level function and inputs and outputs picklable. An exception
    raised by ``fn`` is raised here, at its input's turn; tasks not yet started are cancelled
    when the caller stops early. :class:`ConfigError` if a worker process dies.
    """
    if workers <= 1 or len(inputs) < POOL_MIN_INPUTS:
        yield from map(fn, inputs)
        return
    pending: deque[Future[Out]] = deque()
    pool = ProcessPoolExecutor(workers, mp_context=_context())
    try:
        for value in inputs:
            pending.append(pool.submit(fn, value))
            if len(pending) >= workers * _IN_FLIGHT_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool:
        raise ConfigError(
            f"a worker process of the {workers} reading the images stopped (out of memory, "
            "killed, or a script that calls this without an `if __name__ == \"__main__\":` "
            "guard): run again with one worker (--workers 1) or with more memory"
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" not in methods:
        return multiprocessing.get_context()  # spawn where there is no fork (Windows)
    context = multiprocessing.get_context("forkserver")
    # Takes effect when the server starts (once per process); later calls change nothing.
    context.set_forkserver_preload(["medfed.data.register"])
    return context
