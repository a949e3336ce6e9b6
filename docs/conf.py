"""Sphinx configuration; ``make docs`` builds with ``-n -W``: every reference must resolve, warnings are errors."""
from __future__ import annotations

import importlib
import os
import sys
from typing import Any

sys.path.insert(0, os.path.abspath(".."))

import bloop  # noqa: E402

project = "bloop"
author = "the bloop developers"
copyright = "2026, the bloop developers"
version = release = bloop.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx", "sphinx.ext.viewcode"]
intersphinx_mapping: dict = {}  # the build runs offline: no inventories to fetch
html_theme = "alabaster"
exclude_patterns = ["_build"]
autodoc_member_order = "bysource"
autodoc_typehints = "signature"

# Offline, so the standard library and third-party packages have no inventory: their names in
# signatures stay plain text instead of failing the nitpicky build. Everything in bloop must resolve.
nitpick_ignore_regex = [
    (r"py:.*", r"(typing|typing_extensions|collections|collections\.abc|datetime|decimal|uuid|enum|os|pathlib"
               r"|threading|concurrent\.futures|logging|types|json|io|signal|contextvars|abc|dataclasses)\..*"),
    (r"py:.*", r"(boto3|botocore|blinker|arrow|declare|moto|pytest|_pytest)(\..*)?"),
    (r"py:.*", r"(Any|Optional|Union|Callable|Iterable|Iterator|Sequence|Mapping|MutableMapping|Generic|TypeVar"
               r"|Protocol|Literal|ClassVar|Self|NoReturn|TypedDict|NotRequired|Required|Generator|Type"
               r"|ContextManager|Awaitable|Hashable|Collection)"),
    (r"py:.*", r"(None|NoneType|bool|int|float|str|bytes|bytearray|dict|list|tuple|set|frozenset|object|type"
               r"|Exception|BaseException|ValueError|TypeError|RuntimeError|KeyError|ImportError|OSError"
               r"|Warning|UserWarning|Ellipsis|EllipsisType|NotImplemented|PathLike|Decimal|datetime|timedelta"
               r"|Event|Path|UUID|Enum|Logger|Future|Executor|ThreadPoolExecutor|Namespace|NamedSignal|Signal"
               r"|ModuleType|FrameType|ContextVar)"),
    # Type variables of generic classes, written as bare names in signatures.
    (r"py:.*", r"((bloop(\.\w+)*\.)?(T|M|E|ModelT|TypeT|T_co|KT|VT|_T|_M|P))"),
    # Internal classes that show in signatures; users never build them.
    (r"py:class", r"bloop\.search\.Search|(bloop\.write\.)?Rendered"),
    # The engine's own paths and session, passed to the objects it builds (transactions, batches).
    (r"py:class", r"(bloop\.(session|write|read)\.)?(SessionWrapper|WritePath|ReadPath)"),
    # Type variables and a generic subscript autodoc splits at the comma.
    (r"py:class", r"(bloop\.extensions\.)?[RTE]|dict\[str"),
]


def _find(target: str) -> Any:
    """The object a dotted name refers to, importing as much of it as is a module."""
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _resolve_alias(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve ``bloop.X`` to where X is documented (``bloop.exceptions.X``...) and back.

    The docs name things as users import them (``bloop.Engine``, ``bloop.ConstraintViolation``); the
    reference documents each once, under either that name or its defining module. Unqualified names
    (``Engine``) are looked up in ``bloop`` too.
    """
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    target = node["reftarget"].lstrip("~.")
    candidates = [target] if target.startswith("bloop") else [f"bloop.{target}", target]
    names = []
    for candidate in candidates:
        names.append(candidate)
        obj = _find(candidate) if candidate.startswith("bloop") else None
        module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        if isinstance(module, str) and isinstance(qualname, str):
            names.append(f"{module}.{qualname}")
        last = candidate.rsplit(".", 1)[-1]
        names.append(f"bloop.{last}")
        # The one documented bloop name with this last component, if only one has it.
        matches = [name for name in domain.objects if name.startswith("bloop") and name.rsplit(".", 1)[-1] == last]
        if len(matches) == 1:
            names.append(matches[0])
    for name in dict.fromkeys(names):
        if name in domain.objects:
            return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], name, node, contnode)
    return None


def setup(app: Any) -> None:
    app.connect("missing-reference", _resolve_alias)
