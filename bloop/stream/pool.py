"""Running per-shard calls concurrently on a bounded thread pool (boto3 clients are thread-safe).

The coordinator hands over a batch of calls and gets every outcome back in order, errors included, so
one shard's failure never discards what another shard's call returned.
"""
from __future__ import annotations

import weakref
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Callable

__all__ = ["TaskPool"]


class TaskPool:
    """At most ``max_workers`` calls at once; the threads start on first use and stop on close or GC."""

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max(1, max_workers)
        self._executor: ThreadPoolExecutor | None = None

    def run(self, tasks: list[Callable[[], Any]]) -> list[tuple[Any, BaseException | None]]:
        """(result, error) for each task, in order; a batch of one (or a pool of one) runs inline.

        Every task has finished when this returns, so no worker touches shard state afterwards. An
        error that is not an Exception (KeyboardInterrupt, a test's simulated crash) is raised then.
        """
        if len(tasks) <= 1 or self.max_workers == 1:
            return [_call(task) for task in tasks]
        futures = [self._pool().submit(_call, task) for task in tasks]
        try:
            results = [future.result() for future in futures]
        except BaseException:
            wait(futures)  # interrupted (Ctrl-C) while waiting: let the workers finish with the shards first
            raise
        for _, error in results:
            if error is not None and not isinstance(error, Exception):
                raise error
        return results

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="bloop-stream")
            weakref.finalize(self, self._executor.shutdown, wait=False)
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


def _call(task: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return task(), None
    except Exception as error:
        return None, error
    except BaseException as error:  # noqa: B036 - handed back; run() raises it once every task is done
        return None, error
