"""The worker's settings: the options of ``python -m bloop worker``, merged from defaults, a config file,
``BLOOP_*`` environment variables and flags (lowest precedence first).

Reading settings never changes the process: the environment is read (``environ=`` for tests), never
written, and what the handler's module needs is passed to it explicitly (see ``--factory``).
"""
from __future__ import annotations

import argparse
import configparser
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

__all__ = ["WorkerError", "WorkerSettings", "OPTIONS", "add_arguments", "load_settings"]

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


class WorkerError(Exception):
    """Bad settings or input: an import path that doesn't resolve, a model without a stream, a bad value."""


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
            "e.g. 'dev-{table_name}'", metavar="TEMPLATE"),
    _Option("local", _boolean, False, "--local", "start the embedded AWS (moto) in this process and use it",
            boolean_flag=True),
    _Option("local_port", int, 0, "--local-port", "port of the embedded AWS with --local (default: a free one)",
            metavar="PORT"),
    _Option("app_dir", str, ".", "--app-dir", "directory HANDLER's and MODEL's top-level module or package "
            "is loaded from (default: the current directory; sys.path is left alone, so what they import "
            "must be importable, e.g. inside their package)", metavar="DIR"),
    _Option("factory", _boolean, False, "--factory", "HANDLER is a factory: it is called once with the "
            "worker's engine (its endpoint, region and table names) and returns the handler",
            boolean_flag=True),
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
    factory: bool = False
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
                  environ: Mapping[str, str] | None = None) -> WorkerSettings:
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

