"""The distribution is bloop-dynamodb (PyPI's "bloop" is another project) and declares only tested Pythons."""
import pathlib
import re
import subprocess
import sys

import pytest

import bloop

ROOT = pathlib.Path(__file__).resolve().parents[2]


def pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_distribution_name_and_metadata():
    project = pyproject()["project"]
    assert project["name"] == "bloop-dynamodb"
    assert project["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert project["scripts"] == {"bloop": "bloop.__main__:main"}
    assert project["entry-points"]["pytest11"] == {"bloop": "bloop.testing"}
    assert (ROOT / "bloop" / "py.typed").exists()
    for requirement in project["dependencies"] + [r for extra in ("arrow", "local") for r in
                                                   project["optional-dependencies"][extra]]:
        assert ">=" in requirement and "==" not in requirement, requirement


def test_declared_pythons_are_the_tested_ones():
    project = pyproject()["project"]
    classified = [c.rsplit(" ", 1)[1] for c in project["classifiers"] if re.fullmatch(r".*Python :: 3\.\d+", c)]
    tested = re.search(r"^PYTHONS \?= (.*)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()
    assert classified == tested
    low, high = tested[0], tested[-1]
    assert project["requires-python"] == f">={low},<3.{int(high.split('.')[1]) + 1}"


def test_no_doc_installs_pypis_other_bloop():
    # `pip install "bloop[local]"` installs PyPI's bloop 3.1.1, which has no such extra.
    paths = [ROOT / "README.rst", *(ROOT / "docs").glob("*.rst"), *(ROOT / "bloop").rglob("*.py")]
    assert not [p.name for p in paths if re.search(r"pip install\s+[\"']?bloop(\[|\s|$)", p.read_text())]


def test_version_flag():
    result = subprocess.run([sys.executable, "-m", "bloop", "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"bloop {bloop.__version__} (bloop-dynamodb)"


def test_missing_moto_names_this_package(monkeypatch):
    from bloop import local

    monkeypatch.setitem(sys.modules, "moto.server", None)  # makes `from moto.server import ...` fail
    with pytest.raises(local.MotoNotInstalled, match=r'moto\[server\].*bloop-dynamodb\[local\]'):
        local.LocalAWS().start()
