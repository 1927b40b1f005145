"""Make tests/support runnable on its own: load the server plugin unless tests/conftest.py already did."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.import_plugin("tests.support.plugin")  # no-op when already registered
