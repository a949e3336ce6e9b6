"""The local stream worker: run a stream handler on ``engine.stream``, the way Lambda's event source mapping would.

The public names in one place: the loop is :mod:`bloop.stream.worker` (library code), the settings
:mod:`bloop.worker_settings`, the command line (``python -m bloop worker``) :mod:`bloop.worker_cli`.
"""
from __future__ import annotations

from .stream.worker import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Worker, WorkerResult
from .worker_cli import main, open_checkpoint, resolve, run
from .worker_settings import WorkerError, WorkerSettings, add_arguments, load_settings

__all__ = ["Worker", "WorkerError", "WorkerResult", "WorkerSettings", "add_arguments", "load_settings",
           "main", "open_checkpoint", "resolve", "run", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED"]
