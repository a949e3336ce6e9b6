"""Every Python code block in README.rst and docs/*.rst runs, page by page, against an embedded AWS.

Blocks of one page share a namespace and run in order, as a reader would type them, in a process
of their own with its own embedded AWS (pages use the same table names, and moto's state is
per process). ``engine`` is predefined; ``Engine()`` with default clients reaches the same server.
rst comments the reader doesn't see steer this:

* ``.. test setup:`` with an indented block: code the next blocks need (a model the prose only
  mentions, some data);
* ``.. not run: <why>`` right before a block: it can't run here (a Lambda package, a loop that
  runs until a signal, the shape of a dict);
* ``.. test raises: <ExceptionName>`` right before a block: it ends by raising that, as it says.
"""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.rst", *sorted((ROOT / "docs").glob("*.rst"))]
SETUP_MARKER = ".. test setup:"
NOT_RUN_MARKER = ".. not run:"
RAISES_MARKER = ".. test raises:"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _body(lines: list[str], start: int, indent: int) -> tuple[str, int]:
    """The dedented lines after ``start`` indented deeper than ``indent`` (directive options dropped)."""
    body, i = [], start
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > indent):
        body.append(lines[i])
        i += 1
    code = [line for line in body if line.strip()]
    while code and code[0].lstrip().startswith(":"):  # directive options such as :emphasize-lines:
        body.remove(code.pop(0))
    depth = min((_indent(line) for line in code), default=0)
    return "\n".join(line[depth:] for line in body).strip("\n") + "\n", i


def blocks(page: pathlib.Path) -> list[tuple[int, str, str]]:
    """(line, dedented source, what to do: "run", "skip" or an exception name) for each block."""
    lines = page.read_text().splitlines()
    found: list[tuple[int, str, str]] = []
    mode = "run"
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith(NOT_RUN_MARKER):
            mode = "skip"
        elif stripped.startswith(RAISES_MARKER):
            mode = stripped[len(RAISES_MARKER):].strip()
        elif stripped in (SETUP_MARKER, ".. code-block:: python"):
            source, end = _body(lines, i + 1, _indent(lines[i]))
            found.append((i + 1, source, "run" if stripped == SETUP_MARKER else mode))
            mode = "run"
            i = end
            continue
        elif stripped:
            mode = "run"
        i += 1
    return found


def run_page(page: pathlib.Path) -> None:
    """Run one page's blocks here (in the subprocess), on a fresh embedded AWS."""
    from bloop.local import LocalAWS

    with LocalAWS() as aws:
        os.environ.update(aws.environ)
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            os.environ.pop(name, None)
        os.chdir(tempfile.mkdtemp())
        namespace: dict = {"__name__": f"docs_{page.stem}", "engine": aws.engine()}
        for line, source, mode in blocks(page):
            if mode == "skip":
                continue
            code = compile(source, f"{page.name}:{line}", "exec")
            if mode == "run":
                exec(code, namespace)
                continue
            try:
                exec(code, namespace)
            except Exception as error:
                if type(error).__name__ != mode:
                    raise
            else:
                raise AssertionError(f"{page.name}:{line} should raise {mode}")


def test_every_python_block_is_found():
    for page in PAGES:
        text = page.read_text()
        found = blocks(page)
        assert len(found) == text.count(".. code-block:: python") + text.count(SETUP_MARKER), page.name
        assert all(source.strip() for _, source, _ in found), page.name


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: p.name)
def test_page_code_runs(page):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, __file__, str(page)], capture_output=True, text=True, timeout=300,
                            env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]


if __name__ == "__main__":
    run_page(pathlib.Path(sys.argv[1]).resolve())
