"""Load bloop's pytest plugin (bloop.testing) when it is not installed as the ``bloop`` pytest11 entry point.

A plain ``pytest_plugins = ["bloop.testing"]`` breaks once the package is installed: pytest already
registered the module under the entry point's name, and registering it again fails with
"Plugin already registered under a different name".
"""

import bloop.testing


def pytest_configure(config):
    if not config.pluginmanager.is_registered(bloop.testing):
        config.pluginmanager.register(bloop.testing, "bloop")
