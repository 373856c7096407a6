"""Every example in examples/ runs in fast mode and shows what it claims (on tiny sizes)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.real_data import needs_dataset

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    if str(EXAMPLES) not in sys.path:  # as when run as a script: examples/common.py importable
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def run(name: str, tmp_path: Path) -> object:
    """``main(["--fast", "--out", FIG])`` of the example; checks the figure was written."""
    figure = tmp_path / f"{name}.png"
    result = load(name).main(["--fast", "--out", str(figure)])
    assert figure.stat().st_size > 10_000
    return result


def test_every_example_is_tested() -> None:
    tested = {"quickstart", "vanishing_gradients", "overfitting", "regularisation"}
    tested |= {"activations_losses", "eager_vs_graph", "tensors", "perceptron", "forward_backward"}
    assert {p.stem for p in EXAMPLES.glob("*.py")} - {"common"} == tested


def test_quickstart_learns_the_sine() -> None:
    assert load("quickstart").main(["--fast"]) < 0.1  # from ~0.77 at step 0


def test_vanishing_gradients_sigmoid_starves_the_first_layer(tmp_path: Path) -> None:
    results = {r["kind"]: r for r in run("vanishing_gradients", tmp_path)}
    assert set(results) == {"sigmoid", "relu", "relu+batchnorm", "residual"}
    sigmoid, bn = results["sigmoid"]["layer_rms"], results["relu+batchnorm"]["layer_rms"]
    assert sigmoid[0] < 1e-2 * bn[0]  # orders of magnitude less gradient at the input layer
    assert sigmoid[0] / sigmoid[-1] < 1e-2 * bn[0] / bn[-1]


def test_overfitting_degree_9_memorises_degree_3_generalises(tmp_path: Path) -> None:
    rows = {name: (train, test) for name, train, test in run("overfitting", tmp_path)["rows"]}
    deg1, deg3, deg9 = (rows[f"polynomial degree {d}"] for d in (1, 3, 9))
    assert deg1[0] > deg3[0] and deg1[1] > deg3[1]  # the straight line underfits
    assert deg9[0] < deg3[0]  # lower training error ...
    assert deg9[1] > deg3[1]  # ... higher test error


@needs_dataset("fashion-mnist")  # the example trains on real clothing images
def test_regularisation_table_has_every_regulariser(tmp_path: Path, capsys) -> None:
    rows = run("regularisation", tmp_path)
    names = [r["variant"] for r in rows]
    assert names == ["none", "early stopping", "dropout", "batch norm", "weight decay"] + [
        "max-norm",
        "activity reg.",
        "input noise",
    ]
    for r in rows:
        assert 0.0 <= r["test_acc"] <= 1.0 and 0.0 <= r["train_acc"] <= 1.0
        assert r["gap"] == pytest.approx(r["train_acc"] - r["test_acc"])
        assert 1 <= r["epochs"] <= r["epochs_run"]
    printed = capsys.readouterr().out
    assert all(name in printed for name in names)
    # each regulariser changes training (early stopping only where it stops, max-norm only
    # once the weights have grown past the limit: neither happens in four fast epochs)
    none = rows[0]["val_losses"]
    changed = [r["variant"] for r in rows if r["val_losses"] != none]
    assert changed == ["dropout", "batch norm", "weight decay", "activity reg.", "input noise"]


def test_activations_losses_cross_entropy_is_nll_of_log_softmax(tmp_path: Path) -> None:
    result = run("activations_losses", tmp_path)
    c = result["ce_vs_nll"]
    assert abs(c["cross_entropy"] - c["nll_of_log_softmax"]) < 1e-6
    assert c["grad_diff"] < 1e-6
    assert c["naive_log_softmax"] == -math.inf and c["stable_log_softmax"] == -200.0
    b = result["binary"]
    assert b["bce_logits"] == pytest.approx(b["bce_probs"], rel=1e-4)
    assert result["multiclass"]["max |sum(softmax) - 1|"] < 1e-5
    at = result["curves_at_p_0.01"]  # a confident mistake
    assert at["log"] == pytest.approx(-math.log(at["p"]))
    assert abs(at["grad_log"]) > 10 * abs(at["grad_squared"])


def test_eager_vs_graph_same_losses(tmp_path: Path) -> None:
    (row,) = run("eager_vs_graph", tmp_path)
    assert row["error"] is None
    assert row["max_rel_loss_diff"] < 1e-5
    assert row["eager_ms"] > 0 and row["jit_ms"] > 0


def test_tensors_views_share_memory_and_broadcasting_matches_the_loop(tmp_path: Path) -> None:
    result = run("tensors", tmp_path)
    assert result["view_shares_memory"]
    assert tuple(result["grid"].shape) == (3, 4)
    assert all(r["max_diff"] < 1e-5 for r in result["rows"])


def test_perceptron_separates_clusters_not_xor_and_a_hidden_layer_does(tmp_path: Path) -> None:
    clusters, xor, mlp = run("perceptron", tmp_path)["rows"]
    assert clusters["converged"] and clusters["accuracy"] == 1.0
    assert not xor["converged"] and xor["accuracy"] < 0.8
    assert mlp["accuracy"] > 0.95


def test_forward_backward_by_hand_equals_autograd(tmp_path: Path) -> None:
    result = run("forward_backward", tmp_path)
    assert max(result["diffs"].values()) < 1e-12
    assert result["gradcheck"] is True
    assert result["ops"][0] == "MatMul" and "Tanh" in result["ops"]
    assert result["tangent_error"] < 1e-2  # the loss is nearly linear over a step of 0.01
