"""Root conftest: loads the tfparity pytest plugin for suites/ and tests/."""

pytest_plugins = ["tfparity.pytest_plugin"]
