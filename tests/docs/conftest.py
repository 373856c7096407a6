"""The docs tests drive Chromium with the playground tests' browser and server fixtures."""

from tests.playground.test_browser import browser, server  # noqa: F401
