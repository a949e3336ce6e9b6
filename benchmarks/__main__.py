"""``python -m benchmarks [NAME ...] [--strict]``: run every ``bench_*.py`` module's ``main()``, then the ratios.

NAME keeps only the modules whose name contains it (``core``, ``stream``). ``--strict`` exits with 1 when
a target is missed (a module that fails always makes the exit status 1).
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from typing import Any

import benchmarks

from .canned import Result, as_result, print_table


def discover(names: list[str]) -> list[str]:
    modules = sorted(info.name for info in pkgutil.iter_modules(benchmarks.__path__) if info.name.startswith("bench_"))
    if names:
        modules = [m for m in modules if any(name in m for name in names)]
    return modules


def _results_of(module: str, returned: Any) -> tuple[list[Result], list[tuple]]:
    """What a module's main() returned: ratio rows (Result-like) and other checks.

    Another check is a ``(name, value, target text, met)`` tuple, for measures that are not a bloop/raw
    ratio (a speedup, a count of calls). None, a number or a string means the module only printed.
    """
    if returned is None or isinstance(returned, (str, bytes, int, float, dict)):
        returned = [returned] if isinstance(returned, dict) else []
    try:
        items = list(returned)
    except TypeError:
        items = [returned]
    rows: list[Result] = []
    checks: list[tuple] = []
    for item in items:
        if isinstance(item, (tuple, list)) and len(item) == 4 and isinstance(item[3], bool):
            checks.append((f"{item[0]}", item[1], f"{item[2]}", item[3]))
            continue
        try:
            rows.append(as_result(item))
        except (TypeError, ValueError, AttributeError) as error:
            print(f"  {module}: ignored a result it returned ({error}): {item!r}")
    return rows, checks


def main(argv: list[str]) -> int:
    strict = "--strict" in argv
    names = [arg for arg in argv if not arg.startswith("-")]
    modules = discover(names)
    if not modules:
        print(f"no benchmark module matches {names}")
        return 1
    rows: list[Result] = []
    checks: list[tuple] = []
    failed = []
    started = time.perf_counter()
    for module in modules:
        print(f"== {module}")
        module_started = time.perf_counter()
        try:
            returned = importlib.import_module(f"benchmarks.{module}").main()
        except Exception:
            traceback.print_exc()
            failed.append(module)
            continue
        module_rows, module_checks = _results_of(module, returned)
        rows.extend(module_rows)
        checks.extend(module_checks)
        print(f"   ({time.perf_counter() - module_started:.1f} s)")
    print()
    elapsed = time.perf_counter() - started
    print(f"bloop / raw boto3: the minimum and the median of each side's runs, as ratios ({elapsed:.1f} s in all)")
    print_table(rows)
    if checks:
        print(f"\n{'other checks':<64} {'value':>10}  {'target':<10} verdict")
        for name, value, target, met in checks:
            value_text = f"{value:>10.2f}" if isinstance(value, float) else f"{value!s:>10}"
            print(f"{name:<64} {value_text}  {target:<10} {'ok' if met else 'MISS'}")
    missed = [row.name for row in rows if row.met is False] + [name for name, _, _, met in checks if not met]
    if missed:
        print(f"\nmissed targets: {', '.join(missed)}")
    if failed:
        print(f"\nfailed modules: {', '.join(failed)}")
    return 1 if failed or (strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
