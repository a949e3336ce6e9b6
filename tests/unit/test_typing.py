"""Type checkers see what users' code means: tests/typing/user_code.py under mypy and pyright.

Each ``reveal_type`` there must show the type listed below, each line marked ``# E: <code>`` must be an
error (a wrong type assigned to a column), and no other line may be.
"""
from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
USER_CODE = ROOT / "tests" / "typing" / "user_code.py"

# (mypy's spelling, pyright's spelling) of each revealed type, in file order.
REVEALED = [
    ("str", "str"),
    ("int", "int"),
    ("decimal.Decimal", "Decimal"),
    ("datetime.datetime", "datetime"),
    ("datetime.datetime", "datetime"),
    ("uuid.UUID", "UUID"),
    ("set[str]", "set[str]"),
    ("set[int]", "set[int]"),
    ("list[str]", "list[str]"),
    ("list[uuid.UUID]", "list[UUID]"),
    ("dict[str, Any]", "dict[str, Any]"),
    ("dict[str, Any]", "dict[str, Any]"),
    ("list[Any]", "list[Any]"),
    ("bloop.models.Column[str]", "Column[str]"),
    ("bloop.search.QueryIterator[user_code.User]", "QueryIterator[User]"),
    ("user_code.User", "User"),
    ("user_code.User", "User"),
    ("list[user_code.User]", "list[User]"),
    ("user_code.User", "User"),
    ("str", "str"),
    ("datetime.datetime", "datetime"),
    ("user_code.Animal", "Animal"),
    ("user_code.Dog", "Dog"),
    ("user_code.Dog", "Dog"),
]


def expected_errors() -> dict[int, str]:
    """{line: mypy's error code} of each line marked ``# E: code``."""
    lines = enumerate(USER_CODE.read_text().splitlines(), 1)
    return {n: match.group(1) for n, line in lines if (match := re.search(r"  # E: ([\w-]+)$", line))}


def reveal_lines() -> list[int]:
    return [n for n, line in enumerate(USER_CODE.read_text().splitlines(), 1) if "reveal_type(" in line]


def test_mypy(tmp_path):
    api = pytest.importorskip("mypy.api")
    stdout, _, _ = api.run([str(USER_CODE), "--follow-imports=silent", "--no-error-summary", "--show-error-codes",
                            "--cache-dir", str(tmp_path / "cache")])
    revealed, errors = {}, {}
    for line in stdout.splitlines():
        match = re.match(r".*user_code\.py:(\d+): (\w+): (.*)", line)
        if not match:
            continue
        number, kind, text = int(match.group(1)), match.group(2), match.group(3)
        if "Revealed type is" in text:
            # older mypy says builtins.str; the module's name depends on where mypy finds it
            revealed[number] = text.split("Revealed type is ")[1].strip('"').replace("builtins.", "").replace(
                "tests.typing.user_code.", "user_code.")
        elif kind == "error":
            errors[number] = text
    assert [revealed.get(n) for n in reveal_lines()] == [m for m, _ in REVEALED]
    assert sorted(errors) == sorted(expected_errors()), errors
    assert all(text.endswith(f"[{expected_errors()[n]}]") for n, text in errors.items()), errors


def test_pyright(tmp_path):
    pyright = shutil.which("pyright") or str(pathlib.Path(sys.executable).parent / "pyright")
    if not pathlib.Path(pyright).exists():
        pytest.skip("pyright is not installed (pip install pyright; it needs node)")
    config = tmp_path / "pyrightconfig.json"
    config.write_text(json.dumps({"extraPaths": [str(ROOT)], "typeCheckingMode": "standard"}))
    result = subprocess.run([pyright, "--outputjson", "--project", str(config), str(USER_CODE)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    report = json.loads(result.stdout)
    revealed, errors = {}, {}
    for diagnostic in report["generalDiagnostics"]:
        number = diagnostic["range"]["start"]["line"] + 1
        if diagnostic["severity"] == "information" and "Type of" in diagnostic["message"]:
            revealed[number] = re.search(r'is "(.*)"$', diagnostic["message"]).group(1)
        elif diagnostic["severity"] == "error":
            errors[number] = diagnostic["message"]
    assert [revealed.get(n) for n in reveal_lines()] == [p for _, p in REVEALED]
    assert sorted(errors) == sorted(expected_errors()), errors
