"""no_grad / enable_grad / set_grad_enabled / inference_mode as contexts and decorators."""

from __future__ import annotations

import ember


def _records() -> bool:
    return (ember.ones(2, requires_grad=True) * 2).requires_grad


def test_no_grad_context_and_nesting() -> None:
    assert _records()
    with ember.no_grad():
        assert not _records() and not ember.is_grad_enabled()
        with ember.enable_grad():
            assert _records()
            with ember.no_grad():
                assert not _records()
            assert _records()
        assert not _records()
    assert _records() and ember.is_grad_enabled()


def test_decorators() -> None:
    @ember.no_grad()
    def off() -> bool:
        return _records()

    @ember.enable_grad()
    def on() -> bool:
        return _records()

    assert not off() and on()
    with ember.no_grad():
        assert on() and not ember.is_grad_enabled()
    assert off.__name__ == "off"


def test_set_grad_enabled_function_and_context() -> None:
    with ember.set_grad_enabled(False):
        assert not _records()
        with ember.set_grad_enabled(True):
            assert _records()
        assert not _records()
    assert _records()
    ember.set_grad_enabled(False)
    try:
        assert not _records()
    finally:
        ember.set_grad_enabled(True)
    assert _records()

    @ember.set_grad_enabled(False)
    def off() -> bool:
        return _records()

    assert ember.is_grad_enabled()  # decorating does not switch the mode for the caller
    assert not off() and _records()


def test_grad_mode_is_thread_local() -> None:
    import threading

    seen = []
    with ember.no_grad():
        worker = threading.Thread(target=lambda: seen.append(ember.is_grad_enabled()))
        worker.start()
        worker.join()
    assert seen == [True]


def test_inference_mode() -> None:
    with ember.inference_mode():
        assert not _records()
        with ember.inference_mode(False):  # enables grad, like PyTorch's
            assert _records()
    with ember.inference_mode(False):
        assert _records()
    assert _records()

    @ember.inference_mode()
    def f() -> bool:
        return _records()

    assert not f()


def test_context_restores_after_exception() -> None:
    try:
        with ember.no_grad():
            raise KeyError("boom")
    except KeyError:
        pass
    assert ember.is_grad_enabled()


def test_inplace_under_no_grad_on_leaf_is_fine() -> None:
    w = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        w.sub_(0.5)
    assert w.tolist() == [0.5, 0.5] and w.requires_grad and w.is_leaf
