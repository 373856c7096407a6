"""``benchmarks/recipe_search``: variant parsing and one tiny PyTorch run.

No test asserts a timing. Skips when PyTorch or the Fashion-MNIST files are missing.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from benchmarks import recipe_search  # noqa: E402
from ember.data.datasets import FashionMNIST  # noqa: E402
from ember.train.classifier import RECIPES  # noqa: E402


def test_variant_changes_only_the_named_fields() -> None:
    name, recipe = recipe_search.parse_variant(
        "resnet", "wide:epochs=3,lr=0.05,model.widths=(24,48,96),augment=False"
    )
    base = RECIPES["resnet"]
    assert name == "wide"
    assert (recipe.epochs, recipe.lr, recipe.augment) == (3, 0.05, False)
    assert recipe.model_kwargs == {"widths": (24, 48, 96)}
    assert (recipe.optimizer, recipe.weight_decay) == (base.optimizer, base.weight_decay)
    assert recipe_search.parse_variant("resnet", "base")[1] == base


@pytest.mark.parametrize(
    ("text", "message"),
    [("x:epochs", "'epochs' in variant 'x:epochs' is not field=value"), ("x:size=3", "unknown")],
)
def test_bad_variants_are_named(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        recipe_search.parse_variant("mlp", text)


def test_tiny_search_writes_every_run(tmp_path, capsys) -> None:
    try:
        FashionMNIST(train=False)
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST files not installed")
    out = tmp_path / "runs.json"
    argv = ["mlp", "a:epochs=1,model.hidden=16", "--limit", "256", "--seeds", "0", "1"]
    assert recipe_search.main([*argv, "--json", str(out)]) == 0
    runs = json.loads(out.read_text())
    assert sorted(r["seed"] for r in runs) == [0, 1]
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and len(r["train_loss"]) == 1 for r in runs)
    assert "a: mean" in capsys.readouterr().out
