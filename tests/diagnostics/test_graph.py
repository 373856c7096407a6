"""draw_graph: DOT text for small expressions, named parameters, deep chains, saving."""

from __future__ import annotations

import re
import shutil

import pytest

import ember
from ember import nn
from ember.diagnostics import draw_graph


def _labels(dot: str) -> dict[str, str]:
    return dict(re.findall(r'(n\d+) \[label="([^"]*)"', dot))


def _edges(dot: str) -> set[tuple[str, str]]:
    labels = _labels(dot)
    return {(labels[a], labels[b]) for a, b in re.findall(r"(n\d+) -> (n\d+);", dot)}


def test_small_expression_nodes_and_edges() -> None:
    x = ember.ones(2, 3, requires_grad=True)
    w = ember.ones(3, 4, requires_grad=True)
    graph = draw_graph((x @ w).exp().sum())
    edges = _edges(graph.dot)
    assert edges == {
        ("(2, 3)", "MatMul\\n(2, 4)"),
        ("(3, 4)", "MatMul\\n(2, 4)"),
        ("MatMul\\n(2, 4)", "Exp\\n(2, 4)"),
        ("Exp\\n(2, 4)", "Sum\\n()"),
    }
    assert graph.num_nodes == 5 and graph.num_edges == 4


def test_shared_input_is_one_node() -> None:
    x = ember.ones(3, requires_grad=True)
    graph = draw_graph(x * x)
    assert graph.num_nodes == 2 and graph.num_edges == 2


def test_parameters_are_named() -> None:
    model = nn.Linear(3, 2)
    out = model(ember.ones(4, 3)).sum()
    labels = set(_labels(draw_graph(out, params=dict(model.named_parameters())).dot).values())
    assert "weight\\n(2, 3)" in labels and "bias\\n(2)" in labels


def test_deep_chain_without_recursion() -> None:
    x = ember.ones(2, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    graph = draw_graph(y)
    assert graph.dot.count("Mul\\n(2)") == 5000
    assert graph.num_edges == 10000


def test_freed_graph_has_a_clear_error() -> None:
    x = ember.ones(2, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        draw_graph(y)


def test_save_dot_and_rendering(tmp_path) -> None:
    graph = draw_graph(ember.ones(2, requires_grad=True).exp())
    assert graph.save(tmp_path / "g.dot").read_text() == graph.dot
    with pytest.raises(ValueError, match="unsupported file type: '.jpg'"):
        graph.save(tmp_path / "g.jpg")
    if shutil.which("dot") is None:
        with pytest.raises(RuntimeError, match="apt install graphviz"):
            graph.save(tmp_path / "g.svg")
    else:
        assert graph.save(tmp_path / "g.svg").read_text().lstrip().startswith("<")


def test_graph_nodes_and_edges_as_data():
    """The structured nodes/edges match the DOT text: one entry per node and per edge."""
    x = ember.ones(2, 3, requires_grad=True)
    g = draw_graph((x * 2).exp().sum())
    assert len(g.nodes) == g.num_nodes and len(g.edges) == g.num_edges
    kinds = {n["label"].split("\n")[0]: n["kind"] for n in g.nodes}
    assert kinds["Sum"] == kinds["Exp"] == "op" and kinds["(2, 3)"] == "param"
    ids = {n["id"] for n in g.nodes}
    assert all(a in ids and b in ids for a, b in g.edges)
