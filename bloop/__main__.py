"""Command line: ``bloop <command>`` (the console script) or ``python -m bloop <command>``.

``local`` runs the embedded AWS (moto) in the foreground so other processes can use it through
``AWS_ENDPOINT_URL``; ``worker`` runs a stream handler over a model's stream (:mod:`bloop.worker_cli`).
New commands get a ``_add_<name>`` parser builder and a ``_run_<name>`` function.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any, Optional, Sequence


def _add_local(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "local",
        help="run an embedded AWS (moto) for DynamoDB, DynamoDB Streams and S3 in the foreground",
        description="Serve moto on HOST:PORT until Ctrl-C or SIGTERM, and print the env vars that point at it.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default: 0)")
    parser.add_argument("--region", default="us-east-1", help="region to advertise (default: %(default)s)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.set_defaults(func=_run_local)


def _run_local(args: argparse.Namespace) -> int:
    from bloop.local import LocalAWS, LocalAWSError

    # moto builds its own boto3 sessions inside this process: a profile missing from ~/.aws would
    # make every request fail with HTTP 500, and this process serves nothing but moto.
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(name, None)

    stopping = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    # SIGINT explicitly too: Python leaves it ignored (no KeyboardInterrupt) when started in the background.
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _on_signal)

    aws = LocalAWS(host=args.host, port=args.port, region=args.region, verbose=args.verbose)
    try:
        aws.start()
    except (LocalAWSError, ImportError) as exc:
        print(f"bloop local: {exc}", file=sys.stderr)
        return 1
    try:
        print(f"bloop: embedded AWS listening on {aws.endpoint} (region {aws.region})")
        print("Point AWS SDKs at it with:")
        for name, value in aws.environ.items():
            print(f"export {name}={value}")
        print("Press Ctrl-C to stop.", flush=True)
        # A timed wait keeps the main thread responsive to signals on every platform.
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        aws.stop()
    print("bloop: embedded AWS stopped.", flush=True)
    return 0


def _add_worker(subparsers: Any) -> None:
    from bloop.worker_settings import add_arguments

    parser = subparsers.add_parser(
        "worker",
        help="run a stream handler over a model's DynamoDB stream, checkpointing as it goes",
        description="Call HANDLER(event) for every event of the model's stream (the events engine.stream "
        "yields), save the stream token after handled records, stop cleanly on Ctrl-C / SIGTERM. Settings: "
        "a config file < BLOOP_* environment variables < these flags.",
    )
    add_arguments(parser)
    parser.set_defaults(func=_run_worker)


def _run_worker(args: argparse.Namespace) -> int:
    from bloop.worker_cli import main as worker_main

    return worker_main(args)


# Commands register here: a ``_add_<name>`` parser builder and its ``_run_<name>`` function.
_COMMANDS = (_add_local, _add_worker)


def build_parser(prog: Optional[str] = None) -> argparse.ArgumentParser:
    from bloop import __version__

    parser = argparse.ArgumentParser(prog=prog or _prog(), description="bloop command line tools")
    parser.add_argument("--version", action="version", version=f"bloop {__version__} (bloop-dynamodb)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for add in _COMMANDS:
        add(subparsers)
    return parser


def _prog() -> str:
    # argparse would call ``python -m bloop`` "__main__.py"; the console script is plain "bloop".
    return "python -m bloop" if os.path.basename(sys.argv[0]) == "__main__.py" else "bloop"


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
