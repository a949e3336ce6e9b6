"""An embedded, in-process AWS (moto's HTTP server) for tests, demos and local development.

Everything talks to it over real HTTP, so the code under test goes through the same botocore
request/response path it uses against AWS, and nothing leaks in from the user's AWS config or env.
moto is optional (the ``local`` extra: ``pip install "bloop-dynamodb[local]"``, or ``pip install ".[local]"`` in a
checkout) and only imported by :meth:`LocalAWS.start`.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, Optional

from ._moto_compat import apply_moto_compat

if TYPE_CHECKING:  # pragma: no cover
    from bloop.engine import Engine

__all__ = ["LocalAWS", "LocalAWSError", "MotoNotInstalled", "start_local", "DUMMY_CREDENTIALS"]

#: Credentials moto accepts (any non-empty pair works); moto maps them to account 123456789012.
DUMMY_CREDENTIALS = ("testing", "testing")

# Name moto itself: it works however bloop was installed (checkout, wheel, or PyPI's bloop-dynamodb).
# Never "bloop[local]": PyPI's "bloop" is another project.
_INSTALL_HINT = (
    "bloop's embedded AWS needs moto's server: pip install \"moto[server]>=5.2,<6\" "
    "(or install bloop with its local extra: pip install \"bloop-dynamodb[local]\")"
)


class LocalAWSError(RuntimeError):
    """The embedded AWS could not be started or used."""


class MotoNotInstalled(LocalAWSError, ImportError):
    """moto (with its server extras) is missing; it is optional so bloop stays light in production."""


def _default_config() -> Any:
    """Few retries and short timeouts: a moto bug surfaces as HTTP 500, and retrying it only stalls tests.

    ``proxies={}`` stops botocore from routing 127.0.0.1 through an HTTP(S)_PROXY from the environment;
    path-style S3 addressing because ``bucket.127.0.0.1`` does not resolve.
    """
    from botocore.config import Config

    return Config(
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        proxies={},
        s3={"addressing_style": "path"},
    )


def _format_host(host: str) -> str:
    """The host to put in a URL: wildcard binds are reachable via loopback, IPv6 needs brackets."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


class LocalAWS:
    """moto's server on a background thread, plus boto3 clients (and bloop Engines) bound to it.

    ``port=0`` (the default) lets the OS pick a free port, so parallel test sessions never collide;
    read the result from :attr:`endpoint` / :attr:`port` after :meth:`start`.

    moto keeps its state in process-global backends: every LocalAWS in one process shares the same
    data, :meth:`reset` wipes all of it, and an active ``moto.mock_aws`` in the same process both
    intercepts these clients' requests and resets the shared state.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        config: Any = None,
        verbose: bool = False,
        startup_timeout: float = 15.0,
    ) -> None:
        """``config`` is a ``botocore.config.Config`` merged over the defaults (few retries, short
        timeouts); ``verbose`` turns on werkzeug's per-request log lines on stderr."""
        self._host = host
        self._requested_port = port
        self._region = region
        self._user_config = config
        self._verbose = verbose
        self._startup_timeout = startup_timeout
        self._server: Any = None
        self._stopper: Any = None
        self._port: Optional[int] = None
        self._clients: dict[str, Any] = {}
        self._session: Any = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalAWS:
        """Start serving and return once the server answers HTTP; a no-op if already running."""
        with self._lock:
            if self.running:
                return self
            apply_moto_compat()  # moto answers some requests DynamoDB accepts with HTTP 500: see bloop._moto_compat
            try:
                from moto.server import ThreadedMotoServer
            except ImportError as exc:
                raise MotoNotInstalled(_INSTALL_HINT) from exc  # no moto, or moto without [server]
            self._start_server(ThreadedMotoServer)
            try:
                self._wait_until_ready()
            except BaseException:
                self.stop()
                raise
            return self

    def _start_server(self, server_class: Any) -> None:
        """Start moto's public ``ThreadedMotoServer`` and learn its port (the OS's pick for port 0).

        A bind failure inside it ends only its server thread and leaves its ``start()`` waiting forever,
        so a busy port is checked here first, and ``start()`` runs on a helper thread with a deadline.
        """
        if self._requested_port:
            family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
            try:
                socket.create_server((self._host.strip("[]"), self._requested_port), family=family).close()
            except OSError as exc:
                raise LocalAWSError(f"cannot bind {self._host}:{self._requested_port}: {exc}") from exc
        # Its request handler logs each request at INFO on werkzeug's logger (which werkzeug sets to INFO,
        # with a stderr handler, when left unset): quiet it unless asked, without overriding a user's level.
        werkzeug_logger = logging.getLogger("werkzeug")
        if werkzeug_logger.level == logging.NOTSET or self._verbose:
            werkzeug_logger.setLevel(logging.INFO if self._verbose else logging.WARNING)
        server = server_class(ip_address=self._host.strip("[]"), port=self._requested_port, verbose=False)
        starter = threading.Thread(target=server.start, name="bloop-local-aws-start", daemon=True)
        starter.start()
        starter.join(self._startup_timeout)
        if starter.is_alive():
            raise LocalAWSError(f"cannot bind {self._host}:{self._requested_port}: moto's server did not start")
        self._server = server
        self._port = int(server.get_host_and_port()[1])
        self._stopper = server.stop

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self._startup_timeout
        last_error: Optional[BaseException] = None
        while time.monotonic() < deadline:
            try:
                self._request("GET", "/moto-api/config", timeout=2)
                return
            except urllib.error.HTTPError:
                return  # any HTTP answer means the server is serving
            except OSError as exc:
                last_error = exc
                time.sleep(0.02)
        raise LocalAWSError(f"moto's server at {self.endpoint} did not answer: {last_error}")

    def stop(self) -> None:
        """Stop serving and free the port; safe to call twice. moto's in-process state is kept."""
        with self._lock:
            for client in self._clients.values():
                close = getattr(client, "close", None)
                if close is not None:
                    close()
            self._clients.clear()
            self._session = None
            stopper = self._stopper
            self._stopper = self._server = None
            self._port = None
            if stopper is not None:
                stopper()  # shuts the server down and joins its thread
                # ThreadedMotoServer.stop() leaves the listening socket open; it closes when the last
                # reference to the server goes, which the line above and this collection ensure.
                del stopper
                gc.collect()

    def __enter__(self) -> LocalAWS:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.endpoint if self.running else "stopped"
        return f"<LocalAWS {where} region={self._region}>"

    # ------------------------------------------------------------------ addresses

    @property
    def running(self) -> bool:
        return self._port is not None

    @property
    def port(self) -> int:
        """The bound port (the OS's pick when constructed with ``port=0``)."""
        if self._port is None:
            raise LocalAWSError("LocalAWS is not running; call start() first")
        return self._port

    @property
    def host(self) -> str:
        return self._host

    @property
    def endpoint(self) -> str:
        """Base URL for ``endpoint_url=`` / ``AWS_ENDPOINT_URL``, e.g. ``http://127.0.0.1:5432``."""
        return f"http://{_format_host(self._host)}:{self.port}"

    @property
    def region(self) -> str:
        return self._region

    @property
    def environ(self) -> dict[str, str]:
        """Environment variables that point any AWS SDK (a subprocess, the CLI) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS[0],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS[1],
            "AWS_DEFAULT_REGION": self._region,
            "AWS_REGION": self._region,
        }

    # ------------------------------------------------------------------ clients

    def _boto3_session(self) -> Any:
        """A session that ignores ~/.aws and AWS_* env vars, so a developer's setup can't redirect tests."""
        if self._session is None:
            import boto3.session
            import botocore.session

            # Same variables as a normal session, minus their env vars; config files point at nothing.
            isolated = {
                name: (config_name, None, default, convert)
                for name, (config_name, _env, default, convert) in botocore.session.Session.SESSION_VARIABLES.items()
            }
            for name in ("config_file", "credentials_file"):
                isolated[name] = (None, None, os.devnull, None)
            core = botocore.session.Session(session_vars=isolated)
            self._session = boto3.session.Session(
                aws_access_key_id=DUMMY_CREDENTIALS[0],
                aws_secret_access_key=DUMMY_CREDENTIALS[1],
                region_name=self._region,
                botocore_session=core,
            )
        return self._session

    def client(self, service_name: str, **kwargs: Any) -> Any:
        """A new boto3 client for ``service_name`` bound to this server.

        ``config=`` is merged over the defaults; other kwargs go to ``Session.client``.
        """
        config = _default_config()
        for extra in (self._user_config, kwargs.pop("config", None)):
            if extra is not None:
                config = config.merge(extra)
        kwargs.setdefault("endpoint_url", self.endpoint)
        kwargs.setdefault("region_name", self._region)
        with self._lock:
            session = self._boto3_session()
        return session.client(service_name, config=config, **kwargs)

    def _cached(self, service_name: str) -> Any:
        with self._lock:
            if service_name not in self._clients:
                self._clients[service_name] = self.client(service_name)
            return self._clients[service_name]

    @property
    def dynamodb(self) -> Any:
        """Shared DynamoDB client (boto3 clients are thread-safe)."""
        return self._cached("dynamodb")

    @property
    def dynamodbstreams(self) -> Any:
        """Shared DynamoDB Streams client."""
        return self._cached("dynamodbstreams")

    @property
    def s3(self) -> Any:
        """Shared S3 client."""
        return self._cached("s3")

    def engine(self, **kwargs: Any) -> Engine:
        """A bloop Engine on this server; kwargs (e.g. ``table_name_template``) go to ``Engine``."""
        from bloop.engine import Engine

        kwargs.setdefault("dynamodb", self.dynamodb)
        kwargs.setdefault("dynamodbstreams", self.dynamodbstreams)
        kwargs.setdefault("s3", self.s3)
        return Engine(**kwargs)

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Wipe every table, stream, bucket... (moto's state is process-global, see the class doc)."""
        self._request("POST", "/moto-api/reset", timeout=30)

    def _request(self, method: str, path: str, timeout: float) -> bytes:
        """Plain HTTP to moto's own API, bypassing any proxy configured in the environment."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        data = b"" if method == "POST" else None
        request = urllib.request.Request(self.endpoint + path, method=method, data=data)
        with opener.open(request, timeout=timeout) as response:
            return response.read()


def start_local(**kwargs: Any) -> LocalAWS:
    """Start and return a :class:`LocalAWS`; call ``.stop()`` when done, or use LocalAWS with ``with``."""
    return LocalAWS(**kwargs).start()
