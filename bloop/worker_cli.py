"""``python -m bloop worker``: the command line of the stream worker (:class:`bloop.stream.worker.Worker`).

``python -m bloop worker package.module:handler --model package.module:Model --checkpoint orders.token``
calls ``handler(event)`` for every event of the model's stream (the typed event dicts ``engine.stream``
yields, the same ones :mod:`bloop.ext.aws_lambda` hands the handler in Lambda), saves the stream token
after each handled record (or every ``--save-every`` records) and stops cleanly on SIGINT / SIGTERM.

Settings: :mod:`bloop.worker_settings`. AWS endpoints come from ``--endpoint-url`` or from boto3's own
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_DYNAMODB`` / ``AWS_ENDPOINT_URL_DYNAMODB_STREAMS``; ``--local``
starts the embedded AWS in this process instead. The command never writes the environment or
``sys.path``: a handler that needs the worker's engine (the same endpoint, region and table names) is
given it explicitly with ``--factory`` (HANDLER is then called once as ``HANDLER(engine)`` and returns the
handler).

Exit status: 0 stopped cleanly (signal, or caught up with ``--exit-when-idle``); 1 stopped by a failure
(handler, undecodable record, records lost to retention, checkpoint conflict); 2 bad settings or input
(nothing was read or recorded); 130 interrupted twice (the current record was abandoned).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.machinery
import importlib.util
import json
import logging
import os
import signal
import sys
import threading
from datetime import datetime
from types import ModuleType
from typing import Any, Callable

from .exceptions import CheckpointConflict, InvalidPosition, InvalidStream
from .models import BaseModel
from .stream.worker import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, Worker
from .worker_settings import WorkerError, WorkerSettings, load_settings

__all__ = ["main", "run", "resolve", "open_checkpoint"]

logger = logging.getLogger("bloop.worker")


# ------------------------------------------------------------------------------------------- resolving
def _import(module_name: str, app_dir: str | None) -> ModuleType:
    """Import ``module_name``, its top-level module or package found in ``app_dir`` first (sys.path untouched)."""
    top = module_name.partition(".")[0]
    if app_dir is not None and top not in sys.modules:
        spec = importlib.machinery.PathFinder.find_spec(top, [os.path.abspath(app_dir)])
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            sys.modules[top] = module  # as the import system does, so the package's own imports find it
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(top, None)
                raise
    return importlib.import_module(module_name)


def resolve(path: str, what: str = "object", app_dir: str | None = None) -> Any:
    """The object at ``package.module:attribute`` (``package.module.attribute`` is accepted too).

    With ``app_dir``, the top-level module or package is looked up in that directory before ``sys.path``.
    """
    if not isinstance(path, str) or not path.strip():
        raise WorkerError(f"no {what} given: pass it as package.module:name")
    module_name, _, attribute = path.partition(":")
    if not attribute:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise WorkerError(f"{what} {path!r} is not an import path: write it as package.module:name")
    try:
        module = _import(module_name, app_dir)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            where = f"--app-dir {app_dir!r} or " if app_dir is not None else ""
            raise WorkerError(f"can't import module {module_name!r} for the {what} {path!r}: {error}. Check the "
                              f"spelling, and that it is in {where}sys.path") from None
        raise WorkerError(f"importing {module_name!r} for the {what} {path!r} failed: {error!r}") from error
    except Exception as error:
        raise WorkerError(f"importing {module_name!r} for the {what} {path!r} failed: {error!r}") from error
    found: Any = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise WorkerError(f"module {module_name!r} has no attribute {attribute!r} (the {what} {path!r})") \
                from None
    return found


def _parse_start(start: str) -> Any:
    if start in ("trim_horizon", "latest"):
        return start
    try:
        moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        raise WorkerError(f"--from {start!r} is not trim_horizon, latest or an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise WorkerError(f"--from {start!r} has no UTC offset; write e.g. {start}+00:00")
    return moment


def open_checkpoint(spec: str | None, engine: Any) -> Any:
    """A checkpoint store: ``table:NAME`` -> :class:`~bloop.stream.checkpoint.TableCheckpoint`, else a file."""
    if not spec:
        return None
    from .stream.checkpoint import FileCheckpoint, TableCheckpoint
    if spec.startswith("table:"):
        name = spec[len("table:"):]
        if not name:
            raise WorkerError("--checkpoint table: needs a name, e.g. table:orders-worker")
        return TableCheckpoint(engine, name)
    directory = os.path.dirname(os.path.abspath(spec))
    if not os.path.isdir(directory):
        raise WorkerError(f"--checkpoint {spec!r}: the directory {directory!r} does not exist")
    return FileCheckpoint(spec)


def _unwrap(handler: Any) -> tuple[Any, Any]:
    """(the handler, its model): a Lambda entry point from bloop.ext.aws_lambda names both."""
    inner = getattr(handler, "handler", None)
    if callable(inner) and isinstance(getattr(handler, "model", None), type):
        return inner, handler.model
    return handler, None


def _handler_and_model(settings: WorkerSettings) -> tuple[Any, Any]:
    """The handler (or with ``--factory``, what makes it) and the model, checked before any AWS call."""
    found = resolve(settings.handler or "", "handler", settings.app_dir)
    handler, model = (found, None) if settings.factory else _unwrap(found)
    if not callable(handler):
        kind = "factory" if settings.factory else "handler"
        raise WorkerError(f"{kind} {settings.handler!r} is {handler!r}, which is not callable")
    if settings.model:
        model = resolve(settings.model, "model", settings.app_dir)
    if model is None:
        raise WorkerError("no model given: pass --model package.module:Model (or BLOOP_MODEL)")
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise WorkerError(f"model {settings.model!r} is {model!r}, which is not a bloop model class")
    if model.Meta.abstract:
        raise WorkerError(f"model {model.__name__} is abstract; name a concrete model")
    if not model.Meta.stream:
        raise WorkerError(f"model {model.__name__} has no stream, so there is nothing to read; declare "
                          "Meta.stream = {'include': ['new', 'old']} (or keys / new / old)")
    return handler, model


def _made_handler(factory: Callable[[Any], Any], engine: Any, name: str | None) -> Callable[[dict], Any]:
    handler, _ = _unwrap(factory(engine))
    if not callable(handler):
        raise WorkerError(f"factory {name!r} returned {handler!r}, which is not callable")
    return handler


# ------------------------------------------------------------------------------------------- the command
def _install_signal_handlers(worker: Worker) -> None:
    """First SIGINT/SIGTERM: stop after the current record. Second: abandon it (KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def on_signal(signum: int, frame: Any) -> None:
        if worker.stopping:
            raise KeyboardInterrupt
        logger.info("got %s; stopping after the current record (again to abandon it)", signal.Signals(signum).name)
        worker.stop()

    for name in ("SIGINT", "SIGTERM"):
        signal.signal(getattr(signal, name), on_signal)


def _build_engine(settings: WorkerSettings, local: Any) -> Any:
    from .engine import Engine
    template = settings.table_name_template or "{table_name}"
    if local is not None:
        return local.engine(table_name_template=template)
    from .session import make_clients
    # endpoint None: boto3 reads AWS_ENDPOINT_URL_DYNAMODB[_STREAMS] / AWS_ENDPOINT_URL
    dynamodb, dynamodbstreams = make_clients(settings.region, settings.endpoint_url)
    return Engine(dynamodb=dynamodb, dynamodbstreams=dynamodbstreams, table_name_template=template)


def _start_local(settings: WorkerSettings) -> Any:
    from .local import LocalAWS
    local = LocalAWS(port=settings.local_port, region=settings.region or "us-east-1").start()
    print(f"bloop worker: embedded AWS on {local.endpoint}; point other terminals at it with:", file=sys.stderr)
    for name, value in local.environ.items():
        print(f"export {name}={value}", file=sys.stderr)
    return local


def run(settings: WorkerSettings) -> int:
    """Run the worker with merged settings; returns the exit status (see the module docs)."""
    # the worker's own lines at --log-level; other libraries' (botocore's) from WARNING up
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bloop").setLevel(settings.log_level)
    try:
        start = _parse_start(settings.start)
        handler, model = _handler_and_model(settings)
    except WorkerError as error:
        print(f"bloop worker: {error}", file=sys.stderr)
        return EXIT_USAGE
    local = _start_local(settings) if settings.local else None
    try:
        engine = _build_engine(settings, local)
        try:
            try:
                engine.bind(model)
            except Exception as error:
                print(f"bloop worker: can't bind {model.__name__}: {error!r}", file=sys.stderr)
                return EXIT_FAILED
            if settings.factory:
                try:
                    handler = _made_handler(handler, engine, settings.handler)
                except WorkerError:
                    raise
                except Exception:
                    logger.exception("the handler factory %s failed", settings.handler)
                    return EXIT_FAILED
            checkpoint = open_checkpoint(settings.checkpoint, engine)
            worker = Worker(handler, model=model, engine=engine, checkpoint=checkpoint, start=start,
                            save_every=settings.save_every, on_error=settings.on_error, on_loss=settings.on_loss,
                            poll_interval=settings.poll_interval, max_poll_interval=settings.max_poll_interval,
                            progress_interval=settings.progress_interval, exit_when_idle=settings.exit_when_idle)
        except WorkerError as error:
            print(f"bloop worker: {error}", file=sys.stderr)
            return EXIT_USAGE
        _install_signal_handlers(worker)
        try:
            result = worker.run()
        except (InvalidPosition, InvalidStream) as error:
            print(f"bloop worker: {error}", file=sys.stderr)
            return EXIT_USAGE
        except CheckpointConflict as error:
            print(f"bloop worker: {error}", file=sys.stderr)
            return EXIT_FAILED
        except KeyboardInterrupt:
            logger.warning("interrupted twice: the current record was abandoned; the checkpoint is at the record "
                           "before it")
            return EXIT_INTERRUPTED
        except Exception:
            logger.exception("the worker stopped on an unexpected error; the checkpoint is at the last handled "
                             "record")
            return EXIT_FAILED
        if result.token is not None:
            logger.debug("last saved token: %s", json.dumps(result.token))
        return result.exit_code
    finally:
        if local is not None:
            local.stop()


def main(args: argparse.Namespace | dict[str, Any] | None = None) -> int:
    """Entry point of ``python -m bloop worker`` (``args`` are the parsed flags)."""
    try:
        settings = load_settings(args)
    except WorkerError as error:
        print(f"bloop worker: {error}", file=sys.stderr)
        return EXIT_USAGE
    return run(settings)
