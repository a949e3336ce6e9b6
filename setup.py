"""Packaging for bloop: runtime deps are ranges, never pins (bloop 3.1.1 pinned boto3 exactly)."""
import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "bloop" / "__init__.py").read_text()).group(1)

setup(
    name="bloop",
    version=VERSION,
    description="ORM for DynamoDB and DynamoDB Streams",
    long_description=(HERE / "README.rst").read_text(),
    long_description_content_type="text/x-rst",
    license="MIT",
    packages=find_packages(exclude=["tests", "tests.*", "benchmarks", "examples"]),
    package_data={"bloop": ["py.typed"]},
    python_requires=">=3.9",
    install_requires=[
        "boto3>=1.28,<2",
        "blinker>=1.6,<2",
        "declare>=1.0,<2",
    ],
    extras_require={
        "arrow": ["arrow>=1.2,<2"],
        "local": ["moto[server]>=5.0,<6"],
        "dev": [
            "pytest>=7",
            "hypothesis>=6",
            "sphinx>=7",
            "ruff>=0.4",
            "mypy>=1.5",
        ],
    },
    entry_points={"pytest11": ["bloop = bloop.testing"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Database",
        "Typing :: Typed",
    ],
)
