"""The local stream worker: run a stream handler on ``engine.stream``, the way Lambda's event source mapping would.

``python -m bloop worker package.module:handler --model package.module:Model --checkpoint orders.token``
calls ``handler(event)`` for every event of the model's stream (the typed event dicts ``engine.stream``
yields, the same ones :mod:`bloop.ext.aws_lambda` hands the handler in Lambda), saves the stream token
after each handled record (or every ``--save-every`` records) and stops cleanly on SIGINT / SIGTERM.

Settings come from, lowest precedence first: defaults, a config file (``--config`` or ``BLOOP_CONFIG``),
``BLOOP_*`` environment variables, command-line flags. AWS endpoints come from ``--endpoint-url`` or from
boto3's own ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_DYNAMODB`` / ``AWS_ENDPOINT_URL_DYNAMODB_STREAMS``;
``--local`` starts the embedded AWS in this process instead.

A handler that raises stops the worker with the checkpoint at the last handled record, so a restart
retries the failed record first; ``--on-error skip`` logs the failure and moves on instead.

Exit status: 0 stopped cleanly (signal, or caught up with ``--exit-when-idle``); 1 stopped by a failure
(handler, undecodable record, records lost to retention, checkpoint conflict); 2 bad settings or input
(nothing was read or recorded); 130 interrupted twice (the current record was abandoned).
"""
from __future__ import annotations

import argparse
import configparser
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from .exceptions import (
    CheckpointConflict,
    InvalidPosition,
    InvalidStream,
    RecordDecodeError,
    RecordsLost,
    StreamDisabled,
)
from .models import BaseModel
from .stream.loop import iterate

__all__ = ["Worker", "WorkerError", "WorkerResult", "WorkerSettings", "add_arguments", "load_settings",
           "main", "open_checkpoint", "resolve"]

logger = logging.getLogger("bloop.worker")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: polls in a row that found nothing before ``exit_when_idle`` stops the worker
IDLE_POLLS = 2
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


class WorkerError(Exception):
    """Bad settings or input: an import path that doesn't resolve, a model without a stream, a bad value."""


# ------------------------------------------------------------------------------------------- settings
def _positive_int(text: Any) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _seconds(text: Any) -> float:
    value = float(text)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def _boolean(text: Any) -> bool:
    if isinstance(text, bool):
        return text
    lowered = str(text).strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise ValueError("must be true or false")


def _choice(*choices: str) -> Callable[[Any], str]:
    def convert(text: Any) -> str:
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return text
    return convert


@dataclass(frozen=True)
class _Option:
    name: str  # attribute of WorkerSettings; config key (dashes or underscores); env BLOOP_<NAME>
    convert: Callable[[Any], Any]
    default: Any
    flag: str | None
    help: str
    env: str | None = None
    config_key: str | None = None
    boolean_flag: bool = False
    metavar: str | None = None


OPTIONS = (
    _Option("handler", str, None, None, "the handler, as package.module:function", metavar="HANDLER"),
    _Option("model", str, None, "--model", "the model whose stream to read, as package.module:Model (not needed "
            "when HANDLER is a bloop.ext.aws_lambda entry point, which names its model)", metavar="MODULE:MODEL"),
    _Option("start", str, "trim_horizon", "--from", "where to start when the checkpoint holds no token: "
            "trim_horizon, latest or an ISO 8601 time with a UTC offset (default: trim_horizon)",
            env="BLOOP_FROM", config_key="from", metavar="POSITION"),
    _Option("checkpoint", str, None, "--checkpoint", "where the stream token is kept: a file path, or "
            "table:NAME for a DynamoDB checkpoint item named NAME (default: none, every start uses --from)",
            metavar="PATH_OR_TABLE"),
    _Option("save_every", _positive_int, 1, "--save-every", "save the token after every N handled records "
            "(default: 1); a crash repeats at most N records", metavar="N"),
    _Option("on_error", _choice("stop", "skip"), "stop", "--on-error", "when a handler raises or a record "
            "can't be decoded: stop (default; the checkpoint stays at the last handled record) or skip (log it "
            "with its sequence number and move on)", metavar="{stop,skip}"),
    _Option("on_loss", _choice("stop", "log"), "stop", "--on-loss", "when retention trimmed records before "
            "they were read: stop (default) or log the gap and carry on with the oldest record left",
            metavar="{stop,log}"),
    _Option("poll_interval", _seconds, 0.5, "--poll-interval", "seconds between polls while the stream is "
            "idle; doubles up to --max-poll-interval (default: 0.5)", metavar="SECONDS"),
    _Option("max_poll_interval", _seconds, 2.0, "--max-poll-interval", "longest sleep while idle, so the "
            "longest delay before a new record is handled (default: 2)", metavar="SECONDS"),
    _Option("progress_interval", _seconds, 30.0, "--progress-interval", "seconds between progress lines "
            "(records handled, rate, lag); 0 turns them off (default: 30)", metavar="SECONDS"),
    _Option("exit_when_idle", _boolean, False, "--exit-when-idle", "stop once the stream is caught up "
            "(for scripts and tests)", boolean_flag=True),
    _Option("endpoint_url", str, None, "--endpoint-url", "AWS endpoint for DynamoDB and DynamoDB Streams "
            "(default: boto3's, which honours AWS_ENDPOINT_URL*)", metavar="URL"),
    _Option("region", str, None, "--region", "AWS region (default: boto3's)"),
    _Option("table_name_template", str, None, "--table-name-template", "the engine's table_name_template, "
            "e.g. 'dev-{table_name}' (exported as BLOOP_TABLE_NAME_TEMPLATE for the handler's module)",
            metavar="TEMPLATE"),
    _Option("local", _boolean, False, "--local", "start the embedded AWS (moto) in this process and use it",
            boolean_flag=True),
    _Option("local_port", int, 0, "--local-port", "port of the embedded AWS with --local (default: a free one)",
            metavar="PORT"),
    _Option("app_dir", str, ".", "--app-dir", "directory put first on sys.path to import HANDLER and MODEL "
            "(default: the current directory)", metavar="DIR"),
    _Option("log_level", _choice("DEBUG", "INFO", "WARNING", "ERROR"), "INFO", "--log-level",
            "log level (default: INFO)", metavar="LEVEL"),
)
OPTIONS_BY_NAME = {option.name: option for option in OPTIONS}


@dataclass
class WorkerSettings:
    """The merged settings of one worker run (see :func:`load_settings`)."""

    handler: str | None = None
    model: str | None = None
    start: str = "trim_horizon"
    checkpoint: str | None = None
    save_every: int = 1
    on_error: str = "stop"
    on_loss: str = "stop"
    poll_interval: float = 0.5
    max_poll_interval: float = 2.0
    progress_interval: float = 30.0
    exit_when_idle: bool = False
    endpoint_url: str | None = None
    region: str | None = None
    table_name_template: str | None = None
    local: bool = False
    local_port: int = 0
    app_dir: str = "."
    log_level: str = "INFO"
    config: str | None = None
    #: where each setting came from: "default", "config", "env" or "flag"
    sources: dict = field(default_factory=dict)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker's flags. Defaults are left out here so :func:`load_settings` sees only what was given."""
    for option in OPTIONS:
        kwargs: dict[str, Any] = {"help": option.help, "default": argparse.SUPPRESS}
        if option.flag is None:
            parser.add_argument(option.name, nargs="?", metavar=option.metavar, **kwargs)
        elif option.boolean_flag:
            parser.add_argument(option.flag, dest=option.name, action="store_const", const=True, **kwargs)
        else:
            parser.add_argument(option.flag, dest=option.name, metavar=option.metavar, **kwargs)
    parser.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                        help="settings file: INI with a [worker] section, or TOML with [worker] or "
                             "[tool.bloop.worker] (Python 3.11+); flags and BLOOP_* variables override it")


def _read_config(path: str) -> dict[str, Any]:
    if not os.path.isfile(path):
        raise WorkerError(f"config file {path!r} does not exist")
    if path.endswith(".toml"):
        try:
            import tomllib  # type: ignore[import-not-found]
        except ImportError:  # Python < 3.11
            raise WorkerError(f"reading {path!r} needs Python 3.11+ (tomllib); use an INI file with a [worker] "
                              "section instead") from None
        with open(path, "rb") as file:
            try:
                document = tomllib.load(file)
            except tomllib.TOMLDecodeError as error:
                raise WorkerError(f"config file {path!r} is not valid TOML: {error}") from None
        section = document.get("worker") or document.get("tool", {}).get("bloop", {}).get("worker")
        if not isinstance(section, dict):
            raise WorkerError(f"config file {path!r} has no [worker] or [tool.bloop.worker] table")
        return section
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as error:
        raise WorkerError(f"config file {path!r} is not a valid INI file: {error}") from None
    if not parser.has_section("worker"):
        raise WorkerError(f"config file {path!r} has no [worker] section")
    return dict(parser.items("worker"))


def _config_name(key: str) -> str | None:
    name = key.strip().replace("-", "_")
    for option in OPTIONS:
        if name in (option.name, option.config_key):
            return option.name
    return None


def load_settings(given: dict[str, Any] | argparse.Namespace | None = None,
                  environ: dict[str, str] | None = None) -> WorkerSettings:
    """Merge defaults < config file < ``BLOOP_*`` environment variables < ``given`` (the flags).

    Raises :exc:`WorkerError` naming the bad value and where it came from.
    """
    if isinstance(given, argparse.Namespace):
        given = {name: value for name, value in vars(given).items() if name in OPTIONS_BY_NAME or name == "config"}
    given = dict(given or {})
    environ = os.environ if environ is None else environ
    settings = WorkerSettings()
    layers: list[tuple[str, dict[str, Any]]] = []
    config_path = given.get("config") or environ.get("BLOOP_CONFIG")
    if config_path:
        settings.config = config_path
        config: dict[str, Any] = {}
        for key, value in _read_config(config_path).items():
            name = _config_name(key)
            if name is None:
                raise WorkerError(f"config file {config_path!r}: unknown setting {key!r}; known: "
                                  + ", ".join(o.config_key or o.name.replace("_", "-") for o in OPTIONS))
            config[name] = value
        layers.append((f"config file {config_path}", config))
    env_values = {}
    for option in OPTIONS:
        variable = option.env or f"BLOOP_{option.name.upper()}"
        if environ.get(variable) not in (None, ""):
            env_values[option.name] = (variable, environ[variable])
    layers.append(("env", {name: value for name, (_, value) in env_values.items()}))
    layers.append(("flag", {name: value for name, value in given.items() if name in OPTIONS_BY_NAME}))
    for option in OPTIONS:
        settings.sources[option.name] = "default"
    for where, values in layers:
        for name, value in values.items():
            option = OPTIONS_BY_NAME[name]
            try:
                converted = option.convert(value)
            except (TypeError, ValueError) as error:
                origin = env_values[name][0] if where == "env" else where
                shown = option.flag or option.name
                raise WorkerError(f"{shown} = {value!r} (from {origin}): {error}") from None
            setattr(settings, name, converted)
            settings.sources[name] = "config" if where.startswith("config") else where
    return settings


# ------------------------------------------------------------------------------------------- resolving
def resolve(path: str, what: str = "object") -> Any:
    """The object at ``package.module:attribute`` (``package.module.attribute`` is accepted too)."""
    if not isinstance(path, str) or not path.strip():
        raise WorkerError(f"no {what} given: pass it as package.module:name")
    module_name, _, attribute = path.partition(":")
    if not attribute:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise WorkerError(f"{what} {path!r} is not an import path: write it as package.module:name")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise WorkerError(f"can't import module {module_name!r} for the {what} {path!r}: {error}. Check the "
                              f"spelling and --app-dir (sys.path starts with {sys.path[0]!r})") from None
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


# ------------------------------------------------------------------------------------------- the loop
@dataclass
class WorkerResult:
    """How a run ended."""

    exit_code: int
    reason: str
    handled: int = 0
    skipped: int = 0
    #: the exception that stopped the worker, if one did
    error: BaseException | None = None
    #: the last token saved (None if nothing was saved)
    token: dict | None = None


class _StopFlag(threading.Event):
    """Set to stop. ``iterate`` asks ``is_set()`` before every poll, which gives the worker a tick while idle."""

    def __init__(self, tick: Callable[[], None]) -> None:
        super().__init__()
        self._tick = tick

    def is_set(self) -> bool:
        if not super().is_set():
            self._tick()
        return super().is_set()


class Worker:
    """Runs ``handler(event)`` over ``model``'s stream on ``engine``, checkpointing as it goes.

    ``checkpoint`` is a store with ``load()`` / ``save(token)`` (``FileCheckpoint``, ``TableCheckpoint``) or
    None. ``start`` is used when there is no saved token. Call :meth:`stop` (from a signal handler or another
    thread) to end the run after the current record.
    """

    def __init__(self, handler: Callable[[dict], Any], *, model: Any, engine: Any, checkpoint: Any = None,
                 start: Any = "trim_horizon", save_every: int = 1, on_error: str = "stop", on_loss: str = "stop",
                 poll_interval: float = 0.5, max_poll_interval: float | None = 2.0,
                 progress_interval: float = 30.0, exit_when_idle: bool = False) -> None:
        if on_error not in ("stop", "skip") or on_loss not in ("stop", "log"):
            raise ValueError('on_error must be "stop" or "skip", on_loss "stop" or "log"')
        self.handler = handler
        self.model = model
        self.engine = engine
        self.checkpoint = checkpoint
        self.start = start
        self.save_every = max(1, int(save_every))
        self.on_error = on_error
        self.on_loss = on_loss
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.progress_interval = progress_interval
        self.exit_when_idle = exit_when_idle
        self.handled = 0
        self.skipped = 0
        self.saved_token: dict | None = None
        self._stream: Any = None
        self._stop = _StopFlag(self._tick)
        self._token: dict | None = None  # position just after the last handled (or skipped) record
        self._unsaved = 0
        self._idle_polls = 0
        self._idle = False
        self._seen_at_tick = -1
        self._progress_at = time.monotonic()
        self._progress_count = 0

    def stop(self) -> None:
        """End the run after the current record (the token of the last handled record is saved)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called (or the run ended itself)."""
        return threading.Event.is_set(self._stop)  # the flag alone, without a tick

    # ------------------------------------------------------------------------------ running
    def _position(self) -> tuple[Any, str]:
        token = self.checkpoint.load() if self.checkpoint is not None else None
        if token is not None:
            return token, "the saved checkpoint"
        return self.start, f"{self.start} (no checkpoint saved yet)" if self.checkpoint else str(self.start)

    def run(self) -> WorkerResult:
        """Read and handle events until stopped, caught up (``exit_when_idle``) or failed.

        Resumes from the checkpoint's token, or starts at ``start``. The token of the last handled record
        is saved before returning, whatever ended the run.
        """
        position, described = self._position()
        stream = self.engine.stream(self.model, position)
        self._stream = stream
        if self.on_loss == "log":
            stream.on_loss = lambda loss: logger.error("records were lost to retention before they were read: %s; "
                                                       "carrying on with the oldest record left", loss)
        self._token = stream.token
        logger.info("reading %s's stream %s from %s", self.model.__name__, stream.stream_arn, described)
        try:
            result = self._loop(stream)
        finally:
            try:
                self._save()
            finally:
                stream.close()
                self._log_progress(final=True)
        result.token = self.saved_token
        return result

    def _loop(self, stream: Any) -> WorkerResult:
        while not self._stop.is_set():
            try:
                for event in iterate(stream, poll_interval=self.poll_interval,
                                     max_poll_interval=self.max_poll_interval, stop=self._stop):
                    error = self._handle(stream, event)
                    if error is not None:
                        return self._result(EXIT_FAILED, "a handler failed", error)
            except RecordDecodeError as error:
                if self.on_error == "stop":
                    logger.error("%s; stopping (--on-error skip would log and skip it)", error)
                    return self._result(EXIT_FAILED, "a record could not be decoded", error)
                logger.error("%s; skipped (--on-error skip)", error)
                stream.skip(error.sequence_number)
                self.skipped += 1
                self._advance(stream)
            except RecordsLost as error:
                logger.error("%s; stopping with the checkpoint before the gap (--on-loss log carries on)", error)
                return self._result(EXIT_FAILED, "records were lost to retention", error)
            except StreamDisabled as error:
                logger.error("%s", error)
                return self._result(EXIT_FAILED, "the stream was disabled", error)
        return self._result(EXIT_OK, "caught up" if self._idle else "stopped")

    def _handle(self, stream: Any, event: dict) -> BaseException | None:
        meta = event["meta"]
        try:
            self.handler(event)
        except Exception as error:
            where = f"record {meta['sequence_number']} (eventID {meta['event']['id']}, {meta['event']['type']})"
            if self.on_error == "stop":
                logger.error("%s failed; stopping with the checkpoint at the record before it, so a restart "
                             "retries it (--on-error skip would log and skip it)", where, exc_info=True)
                return error
            logger.error("%s failed; skipped (--on-error skip)", where, exc_info=True)
            self.skipped += 1
        else:
            self.handled += 1
        self._advance(stream)
        return None

    def _advance(self, stream: Any) -> None:
        self._token = stream.token
        self._unsaved += 1
        if self._unsaved >= self.save_every:
            self._save()

    def _save(self) -> None:
        if self.checkpoint is None or not self._unsaved or self._token is None:
            return
        self.checkpoint.save(self._token)
        self.saved_token = self._token
        self._unsaved = 0

    def _result(self, exit_code: int, reason: str, error: BaseException | None = None) -> WorkerResult:
        return WorkerResult(exit_code, reason, self.handled, self.skipped, error, self.saved_token)

    # ------------------------------------------------------------------------------ ticks
    def _tick(self) -> None:
        """Before every poll: progress lines, and the idle check of ``exit_when_idle``."""
        stream = self._stream
        if stream is None:
            return
        seen = self.handled + self.skipped
        if self.exit_when_idle:
            if seen == self._seen_at_tick and stream.lag == 0.0:
                self._idle_polls += 1
                if self._idle_polls >= IDLE_POLLS:
                    self._idle = True
                    logger.info("caught up; stopping (--exit-when-idle)")
                    self._stop.set()
            else:
                self._idle_polls = 0
        self._seen_at_tick = seen
        if self.progress_interval and time.monotonic() - self._progress_at >= self.progress_interval:
            self._log_progress()

    def _log_progress(self, final: bool = False) -> None:
        now = time.monotonic()
        elapsed = max(now - self._progress_at, 1e-9)
        count = self.handled + self.skipped
        rate = (count - self._progress_count) / elapsed
        lag = self._stream.lag if self._stream is not None else None
        lag_text = "unknown" if lag is None else f"{lag:.1f} s"
        if self.checkpoint is None:
            checkpoint = "none"
        elif self.saved_token is None:
            checkpoint = "unchanged"
        else:
            checkpoint = "saved" + (f" ({self._unsaved} records not yet)" if self._unsaved else "")
        logger.info("%s%d records handled, %d skipped (%.1f/s); lag %s; checkpoint %s",
                    "stopped: " if final else "", self.handled, self.skipped, rate, lag_text, checkpoint)
        self._progress_at = now
        self._progress_count = count


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


def _handler_and_model(settings: WorkerSettings) -> tuple[Callable[[dict], Any], Any]:
    handler = resolve(settings.handler or "", "handler")
    model = None
    # a Lambda entry point from bloop.ext.aws_lambda names its handler and model
    inner = getattr(handler, "handler", None)
    if callable(inner) and isinstance(getattr(handler, "model", None), type):
        handler, model = inner, handler.model
    if not callable(handler):
        raise WorkerError(f"handler {settings.handler!r} is {handler!r}, which is not callable")
    if settings.model:
        model = resolve(settings.model, "model")
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


def run(settings: WorkerSettings) -> int:
    """Run the worker with merged settings; returns the exit status (see the module docs)."""
    # the worker's own lines at --log-level; other libraries' (botocore's) from WARNING up
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bloop").setLevel(settings.log_level)
    local = None
    try:
        start = _parse_start(settings.start)
        app_dir = os.path.abspath(settings.app_dir)
        if app_dir not in sys.path:
            sys.path.insert(0, app_dir)
        # the handler's module may build its own Engine() (e.g. for idempotency records): let it find the
        # same AWS and the same table names as this worker
        if settings.table_name_template:
            os.environ["BLOOP_TABLE_NAME_TEMPLATE"] = settings.table_name_template
        if settings.local:
            from .local import LocalAWS
            local = LocalAWS(port=settings.local_port, region=settings.region or "us-east-1").start()
            os.environ.update(local.environ)
            print(f"bloop worker: embedded AWS on {local.endpoint}; point other terminals at it with:",
                  file=sys.stderr)
            for name, value in local.environ.items():
                print(f"export {name}={value}", file=sys.stderr)
        elif settings.endpoint_url:
            os.environ["AWS_ENDPOINT_URL"] = settings.endpoint_url
        if settings.region:
            os.environ.setdefault("AWS_DEFAULT_REGION", settings.region)
        handler, model = _handler_and_model(settings)
    except WorkerError as error:
        if local is not None:
            local.stop()
        print(f"bloop worker: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        engine = _build_engine(settings, local)
        try:
            try:
                engine.bind(model)
            except Exception as error:
                print(f"bloop worker: can't bind {model.__name__}: {error!r}", file=sys.stderr)
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
