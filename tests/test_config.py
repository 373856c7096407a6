"""``ember.config``: defaults, validation, ``override``, the jit honouring its fields, and the
cache locations."""

from __future__ import annotations

from pathlib import Path

import pytest

import ember
from ember.config import Config, cache_root
from ember.jit import native


def test_defaults() -> None:
    assert Config() == Config(
        jit_enabled=True,
        jit_native=True,
        jit_fuse_reductions=True,
        jit_parallel_min=1 << 22,
        jit_parallel_min_pooled=1 << 16,
        jit_cache_dir=None,
        keep_freed_memory=True,
    )
    assert isinstance(ember.config, Config)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("jit_enabled", 0, "True or False"),
        ("jit_native", "1", 'True, False or "all"'),
        ("jit_fuse_reductions", None, "True or False"),
        ("jit_parallel_min", -1, "an int >= 0"),
        ("jit_parallel_min", True, "an int >= 0"),
        ("jit_parallel_min_pooled", -1, "an int >= 0"),
        ("jit_cache_dir", 3, "None or a path"),
        ("keep_freed_memory", "no", "True or False"),
    ],
)
def test_bad_values_name_the_field_and_what_it_takes(
    name: str, value: object, expected: str
) -> None:
    config = Config()
    with pytest.raises(ValueError, match=f"ember.config.{name} must be {expected}, got"):
        setattr(config, name, value)
    with pytest.raises(ValueError, match=f"ember.config.{name} must be"):
        Config(**{name: value})
    assert getattr(config, name) == getattr(Config(), name)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(AttributeError, match="no field 'jit_nativ'; the fields: jit_enabled"):
        Config().jit_nativ = False


def test_override_restores_on_exit_and_on_exception() -> None:
    config = Config()
    with config.override(jit_native="all", jit_parallel_min=1) as inside:
        assert inside is config and (config.jit_native, config.jit_parallel_min) == ("all", 1)
    assert (config.jit_native, config.jit_parallel_min) == (True, 1 << 22)
    with pytest.raises(RuntimeError, match="boom"), config.override(jit_enabled=False):
        assert config.jit_enabled is False
        raise RuntimeError("boom")
    assert config.jit_enabled is True


def test_override_sets_nothing_unless_every_change_is_valid() -> None:
    config = Config()
    with pytest.raises(ValueError, match="jit_parallel_min"):
        with config.override(jit_native=False, jit_parallel_min=-5):
            pytest.fail("the block ran")
    assert config == Config()


def _fn(x: ember.Tensor) -> ember.Tensor:
    return (x * 2.0 + 1.0).tanh() * x


def test_jit_enabled_false_runs_eagerly() -> None:
    jitted = ember.jit(_fn)
    x = ember.ones(4, dtype=ember.float32)
    with ember.config.override(jit_enabled=False):
        jitted(x)
    assert jitted.traces == 0
    jitted(x)
    assert jitted.traces == 1


def test_jit_native_false_keeps_groups_on_numpy_and_retraces_when_changed() -> None:
    jitted = ember.jit(_fn)
    x = ember.ones(4, 8, dtype=ember.float32)
    with ember.config.override(jit_native=False):
        expected = jitted(x).numpy()
        assert not any(jitted._last.executor.native)
    with ember.config.override(jit_native="all"):
        out = jitted(x).numpy()  # a new guard key: compiled again under the new setting
    assert jitted.traces == 2
    assert any(jitted._last.executor.native) is (native.compiler() is not None)
    assert out == pytest.approx(expected, rel=1e-6)


def test_cache_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EMBER_CACHE", "EMBER_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "ember"
    monkeypatch.setenv("EMBER_CACHE_DIR", str(tmp_path / "old"))  # the former name
    assert cache_root() == tmp_path / "old"
    monkeypatch.setenv("EMBER_CACHE", str(tmp_path / "cache"))
    assert cache_root() == tmp_path / "cache"
    with ember.config.override(jit_cache_dir=None):
        assert native.cache_dir() == tmp_path / "cache" / "jit"
    with ember.config.override(jit_cache_dir=str(tmp_path / "kernels")):
        assert native.cache_dir() == tmp_path / "kernels"
