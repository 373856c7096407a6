"""The coverage measure's machinery (scripts/torchcov) on a tiny fake pair of namespaces:
signature comparison, the reasons table, and the recording of names called from tests."""

from __future__ import annotations

import inspect
import types
from pathlib import Path

import pytest

from scripts.torchcov.catalog import MISSING, Namespace, class_members, functions_in
from scripts.torchcov.reasons import Reasons
from scripts.torchcov.recorder import EMBER, TORCH, Recorder
from scripts.torchcov.report import Row, Summary, render
from scripts.torchcov.signatures import differences, signature_of


def _fake_pair() -> tuple[types.ModuleType, types.ModuleType]:
    theirs, ours = types.ModuleType("fake_torch"), types.ModuleType("fake_ember")

    def add(input, other, *, alpha=1):  # noqa: A002 - torch's parameter name
        return input + alpha * other

    def add_ember(input, other, *, alpha=1):  # noqa: A002
        return input + alpha * other

    class Box:
        def __init__(self, size: int, fill: float = 0.0) -> None:
            self.items = [fill] * size

    class BoxEmber:
        def __init__(self, size: int, fill: float = 0.0) -> None:
            self.items = [fill] * size

    theirs.add, theirs.Box, theirs.only_torch = add, Box, lambda: None
    ours.add, ours.Box = add_ember, BoxEmber
    ours.plus = add_ember  # the same object under a second name
    return theirs, ours


def _sig(fn) -> inspect.Signature:
    return inspect.signature(fn)


def test_identical_signatures_have_no_differences() -> None:
    assert differences(_sig(lambda input, dim=None: 0), _sig(lambda input, dim=None: 0)) == []


@pytest.mark.parametrize(
    "ours, expected",
    [
        (lambda x, dim=None: 0, ["x where torch has input"]),
        (lambda input: 0, ["lacks dim"]),
        (lambda input, dim=0: 0, ["dim=0 where torch has None"]),
        (lambda input, dim: 0, ["dim required"]),
        (lambda input, dim=None, *, out: 0, []),  # keyword-only extras torch lacks are fine
        (lambda input, dim=None, extra=1: 0, []),
        (lambda input, dim=None, *args, **kwargs: 0, []),
    ],
)
def test_signature_differences(ours, expected: list[str]) -> None:
    assert differences(_sig(lambda input, dim=None: 0), _sig(ours)) == expected


def test_defaults_compare_numerically_but_not_bool_against_int() -> None:
    assert differences(_sig(lambda lr=0: 0), _sig(lambda lr=0.0: 0)) == []
    assert differences(_sig(lambda flag=1: 0), _sig(lambda flag=True: 0)) == [
        "flag=True where torch has 1"
    ]


def test_builtins_take_their_signature_from_the_overrides_lambda() -> None:
    stand_in = lambda self, other, out=None: -1  # noqa: E731
    sig = signature_of(min, {min: stand_in}, bound=True)  # min has no inspectable signature
    assert list(sig.parameters) == ["other"]  # self dropped, and out (no method takes it)
    assert signature_of(min, {}) is None
    assert signature_of(lambda *args, **kwargs: 0) is None


def test_class_signature_is_its_constructor_without_self() -> None:
    theirs, _ = _fake_pair()
    assert list(signature_of(theirs.Box).parameters) == ["size", "fill"]
    assert signature_of(property(lambda self: 1)) is None


def test_reasons_exact_names_win_over_patterns(tmp_path: Path) -> None:
    path = tmp_path / "reasons.toml"
    path.write_text('["torch.nn"]\n"Lazy*" = "lazy"\nLazyLinear = "exact"\n[Tensor]\n"q_*" = "q"\n')
    reasons = Reasons.load(path)
    assert reasons.reason("torch.nn", "LazyLinear") == "exact"
    assert reasons.reason("torch.nn", "LazyConv2d") == "lazy"
    assert reasons.reason("torch.nn", "Linear") is None
    assert reasons.reason("Tensor", "q_scale") == "q"
    assert reasons.reason("torch", "q_scale") is None
    with pytest.raises(ValueError, match="non-empty"):
        Reasons({"torch": {"abs": ""}})


def test_catalog_selects_functions_and_class_members() -> None:
    theirs, ours = _fake_pair()
    ns = Namespace("fake", theirs, ours, functions_in, 0.5)
    assert ns.names() == ["add", "only_torch"]
    assert ns.ember_attr("only_torch") is MISSING
    members = class_members(theirs.Box)
    assert "__init__" in members and "__repr__" not in members and "items" not in members


def test_recorder_credits_a_name_only_when_a_test_calls_both_libraries() -> None:
    theirs, ours = _fake_pair()
    recorder = Recorder(Path(__file__).parent)
    names = ["add", "Box"]
    recorder.instrument(
        EMBER, [(ours, n, ("fake", n)) for n in names] + [(ours, "plus", ("fake", "plus"))]
    )
    recorder.instrument(TORCH, [(theirs, n, ("fake", n)) for n in names])
    try:
        recorder.begin("both")
        assert ours.plus(1, 2) == theirs.add(1, 2) == 3
        assert ours.Box(2).items == theirs.Box(2).items
        recorder.end(passed=True)
        recorder.begin("ember only")
        ours.Box(1)
        recorder.end(passed=True)
        recorder.begin("failed")
        ours.add(0, 0), theirs.add(0, 0)
        recorder.end(passed=False)
        recorder.begin("through map")
        mapped = list(map(ours.add, [1], [1]))  # a C caller in between: the test still counts
        recorder.end(passed=True)
    finally:
        recorder.restore()
    assert mapped == [2]
    calls = recorder.calls()
    assert set(calls) == {"both", "ember only", "through map"}
    ember_keys, torch_keys = calls["both"]
    assert ember_keys == {("fake", "add"), ("fake", "plus"), ("fake", "Box")}
    assert torch_keys == {("fake", "add"), ("fake", "Box")}
    assert calls["ember only"] == ({("fake", "Box")}, set())
    assert calls["through map"] == ({("fake", "add"), ("fake", "plus")}, set())
    assert ours.add.__name__ == "add_ember" and not hasattr(ours.add, "__wrapped__")
    assert not hasattr(ours.Box, "__torchcov_keys__")  # restored


def test_recorder_ignores_calls_made_outside_the_tests(tmp_path: Path) -> None:
    theirs, ours = _fake_pair()
    recorder = Recorder(tmp_path)  # this file is not under tmp_path: nothing counts
    recorder.instrument(EMBER, [(ours, "add", ("fake", "add"))])
    try:
        recorder.begin("t")
        ours.add(1, 1)
        recorder.end(passed=True)
    finally:
        recorder.restore()
    assert recorder.calls() == {}


def test_report_percentages_leave_out_reasoned_names() -> None:
    rows = [
        Row("fake", "a", None, True, "yes", True),
        Row("fake", "b", None, True, "lacks out", False),
        Row("fake", "c", None, False),
        Row("fake", "d", "quantized"),
    ]
    summary = Summary.of("fake", rows, 0.9)
    assert (summary.measured, summary.in_ember, summary.signature_ok, summary.covered) == (
        3,
        2,
        1,
        1,
    )
    text = render(["# t"], [(summary, rows)])
    assert "| `fake` | 3 | 66.7% | 33.3% | **33.3%** | ≥ 90% | 1 |" in text
    assert "| `d` | quantized |" in text


def test_private_and_deprecated_torch_parameters_are_not_compared() -> None:
    theirs = _sig(lambda input, target, size_average=None, reduce=None, reduction="mean": 0)
    assert differences(theirs, _sig(lambda input, target, reduction="mean": 0)) == []
    assert (
        differences(_sig(lambda input, dim=None, _stacklevel=3: 0), _sig(lambda input, dim=None: 0))
        == []
    )
