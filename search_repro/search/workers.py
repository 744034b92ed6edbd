"""``--processes N``: a search scores its candidates in N processes of this machine.

The search process becomes rank 0 of a gloo process group on 127.0.0.1 and starts N - 1 worker
processes (``python -m search_repro.search.workers``) that load the same evaluator and serve
:class:`~search_repro.search.distributed.ShardedEvaluation` until the search ends: what
``torchrun --nproc_per_node N`` does, from the one command. An architecture's score depends only
on its own path, so the front is the same for every N. ``auto`` takes the idle cores: a busy
machine punishes extra processes far more than an idle one rewards them
(``benchmarks/search_threads.py``).
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from typing import Callable, Iterator, Sequence

from moga_zoo.errors import MogaZooError, UsageError

__all__ = ["usable_cores", "idle_cores", "processes_option", "worker_command",
           "evaluation_workers", "WorkerError", "main"]

_GROUP = ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE")
READY = "evaluator loaded"


class WorkerError(MogaZooError, RuntimeError):
    """An evaluation worker process stopped before the search did."""


def usable_cores() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def idle_cores() -> int:
    """Cores this process may use, less the load of the last minute (at least 1)."""
    cores = usable_cores()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(cores, int(round(cores - load))))


def processes_option(text: str) -> "int | str":
    """``--processes``: ``auto`` or a count from 1 to the cores this process may use."""
    if text == "auto":
        return text
    cores = usable_cores()
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or a count, got {text!r}") from None
    if not 1 <= value <= cores:
        raise argparse.ArgumentTypeError(f"expected auto or 1 to {cores} (this machine's cores), "
                                         f"got {value}")
    return value


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _last_line(path: str) -> str:
    with open(path, errors="replace") as f:
        lines = [line.strip() for line in f if line.strip()]
    return lines[-1] if lines else "no output"


def worker_command(threads: int, supernet: "str | None", data_root: "str | None") -> list[str]:
    """The command line of one worker."""
    return [sys.executable, "-m", "search_repro.search.workers", "--threads", str(threads),
            "--parent", str(os.getpid()), *(["--supernet", supernet] if supernet else []),
            *(["--data-root", data_root] if data_root else [])]


def _failure(rank: int, code: int, log: str) -> WorkerError:
    return WorkerError(f"evaluation worker {rank} stopped (exit code {code}): {_last_line(log)}; "
                       f"rerun with --processes 1")


@contextmanager
def evaluation_workers(count: int, threads: int, supernet: "str | None",
                       data_root: "str | None") -> Iterator[Callable[[], None]]:
    """Start ``count`` workers (ranks 1..count), which load their evaluators meanwhile, and make
    this process rank 0 of their group for the block; the block calls the function it gets
    once its own evaluator is loaded, which waits for the workers' (then
    :func:`~search_repro.search.distributed.sharded_evaluation` joins the group). A worker
    that fails is reported as a :class:`WorkerError` with its last line of output. Under
    torchrun (``WORLD_SIZE`` set) the group exists already and none is started."""
    if count < 1 or "WORLD_SIZE" in os.environ:
        yield lambda: None
        return
    saved = {k: os.environ.get(k) for k in _GROUP}
    group = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()),
             "WORLD_SIZE": str(count + 1)}
    command = worker_command(threads, supernet, data_root)
    with ExitStack() as stack:
        logs = [stack.enter_context(tempfile.NamedTemporaryFile("w+", prefix="search-worker-",
                                                                suffix=".log"))
                for _ in range(count)]
        workers = [subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                    env={**os.environ, **group, "RANK": str(rank),
                                         "LOCAL_RANK": str(rank)})
                   for rank, log in enumerate(logs, start=1)]
        os.environ.update(group, RANK="0", LOCAL_RANK="0")

        def wait_until_loaded() -> None:
            waiting = set(range(count))
            while waiting:
                for i in sorted(waiting):
                    code = workers[i].poll()
                    if code is not None:
                        raise _failure(i + 1, code, logs[i].name)
                    with open(logs[i].name, errors="replace") as f:
                        if READY in f.read():
                            waiting.discard(i)
                time.sleep(0.1)

        finished = False
        try:
            yield wait_until_loaded
            finished = True
        except Exception as error:
            failed = [(rank, w.poll(), log) for rank, (w, log) in
                      enumerate(zip(workers, logs), start=1) if w.poll() not in (None, 0)]
            if failed and not isinstance(error, MogaZooError):
                rank, code, log = failed[0]
                raise _failure(rank, code, log.name) from error
            raise
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            for worker in workers:  # they return once rank 0 says stop; else they are ended
                try:
                    worker.wait(timeout=30 if finished else 0)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """A worker: load the evaluator, serve scoring requests until rank 0 stops."""
    import torch

    from moga_zoo.cli.options import Parser

    from search_repro.search.distributed import sharded_evaluation
    from search_repro.supernet import load_evaluator

    p = Parser(prog="python -m search_repro.search.workers", description=main.__doc__)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--parent", type=int, required=True, help="the search's process id")
    p.add_argument("--supernet")
    p.add_argument("--data-root")
    args = p.parse_args(argv)
    if os.environ.get("RANK", "0") == "0":
        raise UsageError("an evaluation worker is started by a search with --processes N > 1")
    torch.set_num_threads(args.threads)
    evaluator = load_evaluator(args.supernet, args.data_root)
    if os.getppid() != args.parent:
        return 1  # the search is gone: do not wait for it
    print(READY, flush=True)
    with sharded_evaluation(evaluator.accuracy):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
