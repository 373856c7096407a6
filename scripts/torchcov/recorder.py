"""Which names the tests exercise against PyTorch, recorded by instrumenting both libraries.

Every measured name of ember and of torch is replaced, for the duration of a pytest run, by a
wrapper that notes the key ``(namespace, name)`` when it is called, and when a class is
constructed (its ``__init__``/``__new__``) or a Tensor attribute is read. A call counts only if
it comes straight from a file under ``tests/``: calls that the libraries make internally do not,
so a module that happens to use ``sum`` inside does not make ``sum`` covered. A key is covered
when one passing test calls both ember's and torch's object under that key.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

EMBER, TORCH = 0, 1
Key = tuple[str, str]


class Recorder:
    """Wraps namespaces, and collects per test the keys each side called from test code."""

    def __init__(self, tests_dir: Path) -> None:
        self._prefix = str(tests_dir.resolve()) + os.sep
        self._current: str | None = None
        self._calls: dict[str, tuple[set[Key], set[Key]]] = {}
        self.passed: set[str] = set()
        self.failed_to_wrap: dict[Key, str] = {}
        self._undo: list[Callable[[], None]] = []

    # -- recording -------------------------------------------------------------------------

    def _note(self, side: int, keys: frozenset[Key], caller: Any) -> None:
        if self._current is not None and caller.f_code.co_filename.startswith(self._prefix):
            self._calls.setdefault(self._current, (set(), set()))[side].update(keys)

    def begin(self, test_id: str) -> None:
        self._current = test_id

    def end(self, passed: bool) -> None:
        if passed and self._current is not None:
            self.passed.add(self._current)
        self._current = None

    def calls(self) -> dict[str, tuple[set[Key], set[Key]]]:
        """Per passing test, the keys called by ember and by torch."""
        return {t: c for t, c in self._calls.items() if t in self.passed}

    # -- instrumenting ---------------------------------------------------------------------

    def instrument(self, side: int, owners: Iterable[tuple[Any, str, Key]]) -> None:
        """Wrap each ``owner.name``, noting ``key``; an object reachable under several keys
        (``ember.relu`` is ``ember.nn.functional.relu``) gets one wrapper noting all of them."""
        groups: dict[int, tuple[Any, list[tuple[Any, str]], set[Key]]] = {}
        for owner, name, key in owners:
            raw = (
                inspect.getattr_static(owner, name)
                if inspect.isclass(owner)
                else getattr(owner, name)
            )
            _, places, keys = groups.setdefault(id(raw), (raw, [], set()))
            places.append((owner, name))
            keys.add(key)
        for raw, places, keys in groups.values():
            frozen = frozenset(keys)
            try:
                for owner, name in places:
                    self._wrap(side, owner, name, raw, frozen)
            except (TypeError, AttributeError) as exc:
                for key in keys:
                    self.failed_to_wrap[key] = f"{type(exc).__name__}: {exc}"

    def _wrap(self, side: int, owner: Any, name: str, raw: Any, keys: frozenset[Key]) -> None:
        note = self._note
        if inspect.isclass(raw):
            self._wrap_constructor(side, raw, keys)
            return
        if inspect.isclass(owner) and inspect.isdatadescriptor(raw):

            def get(obj: Any) -> Any:
                note(side, keys, sys._getframe(1))
                return raw.__get__(obj, type(obj))

            setter = getattr(raw, "__set__", None)
            deleter = getattr(raw, "__delete__", None)
            replacement: Any = property(get, setter, deleter, getattr(raw, "__doc__", None))
        elif isinstance(raw, (staticmethod, classmethod)):
            replacement = type(raw)(_noting(raw.__func__, note, side, keys))
        elif callable(raw):
            replacement = _noting(raw, note, side, keys)
        else:
            return  # a constant such as a dtype: nothing to call
        self._set(owner, name, replacement)

    def _wrap_constructor(self, side: int, cls: type, keys: frozenset[Key]) -> None:
        if "__torchcov_keys__" in vars(cls):
            return  # already wrapped through another name
        init = inspect.getattr_static(cls, "__init__")
        new = inspect.getattr_static(cls, "__new__")
        if init is object.__init__ and isinstance(new, staticmethod):
            self._set(cls, "__new__", staticmethod(_noting(new.__func__, self._note, side, keys)))
        else:
            self._set(cls, "__init__", _noting(init, self._note, side, keys))
        self._set(cls, "__torchcov_keys__", keys)

    def _set(self, owner: Any, name: str, value: Any) -> None:
        had = name in vars(owner)
        old = vars(owner).get(name)
        setattr(owner, name, value)
        self._undo.append(lambda: setattr(owner, name, old) if had else delattr(owner, name))

    def restore(self) -> None:
        """Put every wrapped name back."""
        while self._undo:
            self._undo.pop()()

    # -- pytest hooks ------------------------------------------------------------------------

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Any:
        self.begin(item.nodeid)
        self._ok = False
        yield
        self.end(self._ok)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A test counts if its call passed and no phase failed (skips do not count)."""
        if report.when == "call":
            self._ok = report.passed
        if report.failed:
            self._ok = False


def _noting(fn: Any, note: Callable, side: int, keys: frozenset[Key]) -> Callable:
    """``fn`` behind a function that first notes ``keys`` with its caller's frame."""

    @functools.wraps(fn)
    def noted(*args: Any, **kwargs: Any) -> Any:
        note(side, keys, sys._getframe(1))
        return fn(*args, **kwargs)

    return noted
