"""Sphinx configuration; ``make docs`` builds with warnings as errors."""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "bloop"
author = "the bloop developers"
copyright = "2026, the bloop developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx", "sphinx.ext.viewcode"]
intersphinx_mapping = {}
html_theme = "alabaster"
exclude_patterns = ["_build"]
autodoc_member_order = "bysource"
nitpicky = False
