"""ember.jit end to end: jitted == eager (pure functions, full training steps), guards and
retracing, the errors on value-dependent code, ember.config.jit_enabled, and the IR printer."""

from __future__ import annotations

import re

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.jit import JitError

F64 = ember.float64


def _randn(*shape: int) -> ember.Tensor:
    return ember.randn(*shape, dtype=F64)


def _close(a: ember.Tensor, b: ember.Tensor) -> None:
    np.testing.assert_allclose(a.numpy(force=True), b.numpy(force=True), rtol=1e-12, atol=1e-14)


PURE = {
    "elementwise": lambda x, y: (x * y + 1.0).exp() / (y.abs() + 2.0) - x.tanh() * 1.0,
    "reduction": lambda x, y: x.sum(dim=1, keepdim=True) * y.amax(dim=0) + x.mean(),
    "movement": lambda x, y: (x.t().t() + y).reshape(4, 3).reshape(2, 6).permute(1, 0)[1:, :],
    "linalg": lambda x, y: F.softmax(x @ y.t(), dim=-1),
    "index": lambda x, y: ember.cat([x[:, 1:], y.flip(0)], dim=1).gather(
        1, ember.tensor([[0], [2], [1]])
    ),
}


@pytest.mark.parametrize("family", sorted(PURE))
def test_pure_function_matches_eager(family: str) -> None:
    fn = PURE[family]
    jitted = ember.jit(fn)
    for _ in range(3):  # trace, then replays on new values
        x, y = _randn(3, 4), _randn(3, 4)
        _close(jitted(x, y), fn(x, y))
    assert jitted.traces == 1


OPTIMIZERS = {  # shorthand -> (class name, hyperparameters)
    "sgd": ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-3}),
    "adam": ("Adam", {"lr": 0.01}),
}


def _mlp_step(optimizer: str, zero_grad: bool = True, **hyper: float):
    """A Linear-ReLU-Linear classifier, its optimizer and a training-step function.

    ``optimizer`` is a key of OPTIMIZERS or a class name of ember.optim (with ``hyper``).
    """
    ember.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 16, dtype=F64), nn.ReLU(), nn.Linear(16, 4, dtype=F64))
    name, defaults = OPTIMIZERS.get(optimizer, (optimizer, {}))
    opt = getattr(ember.optim, name)(model.parameters(), **{**defaults, **hyper})

    def step(x: ember.Tensor, y: ember.Tensor) -> ember.Tensor:
        if zero_grad:
            opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, opt, step


@pytest.mark.parametrize("zero_grad", [True, False], ids=["zero_grad", "accumulate"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_step_matches_eager(optimizer: str, zero_grad: bool) -> None:
    eager_model, eager_opt, eager_step = _mlp_step(optimizer, zero_grad)
    model, opt, step = _mlp_step(optimizer, zero_grad)
    jitted = ember.jit(step)
    for i in range(4):
        x, y = _randn(8, 6), ember.tensor([i % 4, 1, 2, 3, 0, 1, 2, 3])
        assert jitted(x, y).item() == pytest.approx(eager_step(x, y).item(), rel=1e-12)
    for p, q in zip(eager_model.parameters(), model.parameters()):
        _close(p, q)
        _close(p.grad, q.grad)
        for key, value in eager_opt.state[p].items():
            _close(value, opt.state[q][key])  # Adam's step count included
    # the first call creates .grad and the optimizer state (a warm-up); then one graph
    assert (jitted.warmups, jitted.traces) == (1, 1)


def test_training_step_replays_without_autograd_and_eager_code_continues() -> None:
    model, opt, step = _mlp_step("sgd")
    jitted = ember.jit(step)
    x, y = _randn(8, 6), ember.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    for _ in range(3):
        loss = jitted(x, y)
    assert jitted.traces == 1 and not loss.requires_grad
    before = [p.detach().clone() for p in model.parameters()]
    step(x, y)  # eager code continues from the state the graph wrote back
    assert all(
        not np.array_equal(a.numpy(), p.numpy(force=True))
        for a, p in zip(before, model.parameters())
    )


def test_batchnorm_running_stats_are_written_back() -> None:
    def make():
        ember.manual_seed(2)
        model = nn.Sequential(nn.Linear(5, 7, dtype=F64), nn.BatchNorm1d(7, dtype=F64))
        opt = ember.optim.SGD(model.parameters(), lr=0.05)

        def step(x: ember.Tensor) -> ember.Tensor:
            opt.zero_grad()
            loss = (model(x) ** 2).mean()
            loss.backward()
            opt.step()
            return loss

        return model, step

    (eager_model, eager_step), (model, step) = make(), make()
    jitted = ember.jit(step)
    for _ in range(10):
        x = _randn(6, 5)
        assert jitted(x).item() == pytest.approx(eager_step(x).item(), rel=1e-12)
    assert jitted.traces == 1
    for a, b in zip(eager_model.buffers(), model.buffers()):
        _close(a, b)
    assert model[1].num_batches_tracked.item() == 10
    model.eval()  # training flag is part of the guard: a new graph
    before = jitted.traces
    jitted(_randn(6, 5))
    assert jitted.traces == before + 1


def _dropout_step(seed: int):
    """A dropout MLP trained with SGD, and its step; the model is built from ``seed``."""
    ember.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 32, dtype=F64), nn.Dropout(0.5), nn.Linear(32, 3, dtype=F64))
    opt = ember.optim.SGD(model.parameters(), lr=0.1)

    def step(x: ember.Tensor, y: ember.Tensor) -> ember.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y) + ember.randn(1, dtype=F64).sum() * 0.0
        loss.backward()
        opt.step()
        return loss

    return model, step


def test_dropout_replays_the_eager_draws_and_advances_the_generator() -> None:
    x, y = _randn(8, 6), ember.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    eager_model, eager_step = _dropout_step(5)
    eager = [eager_step(x, y).item() for _ in range(10)]
    eager_rng = ember.random.get_rng_state()
    model, step = _dropout_step(5)
    jitted = ember.jit(step)
    losses = [jitted(x, y).item() for _ in range(10)]
    assert jitted.traces == 1 and len(set(losses)) == 10  # fresh masks every replay
    assert "= Sample(draw=draw(float64[8, 32]))" in str(jitted.graph)
    np.testing.assert_allclose(losses, eager, rtol=1e-12)
    for p, q in zip(eager_model.parameters(), model.parameters()):
        _close(p, q)
    assert ember.random.get_rng_state().tolist() == eager_rng.tolist()


def test_unused_draw_still_advances_the_generator() -> None:
    def fn(x: ember.Tensor) -> ember.Tensor:
        ember.rand(5)  # dead code for the graph, but eager draws it
        return x * 2.0

    jitted, x = ember.jit(fn), _randn(3)
    ember.manual_seed(9)
    for _ in range(3):
        fn(x)
    expected = ember.rand(4)
    ember.manual_seed(9)
    for _ in range(3):
        jitted(x)
    _close(ember.rand(4), expected)


def test_dropout_in_eval_mode_is_another_graph_without_draws() -> None:
    model, _ = _dropout_step(0)
    jitted, x = ember.jit(model), _randn(4, 6)
    with ember.no_grad():
        jitted(x)
        model.eval()
        before = ember.random.get_rng_state()
        out = jitted(x)
        _close(out, model(x))
    assert jitted.traces == 2 and "Sample" not in str(jitted.graph)
    assert ember.random.get_rng_state().tolist() == before.tolist()


def test_new_input_shape_retraces() -> None:
    jitted = ember.jit(lambda x: (x * 2.0).sum(dim=0))
    for shape in [(3, 2), (3, 2), (5, 2)]:
        x = _randn(*shape)
        _close(jitted(x), x.sum(dim=0) * 2.0)
    assert jitted.traces == 2


def test_dtype_and_grad_mode_are_guards() -> None:
    w = _randn(3).requires_grad_()
    jitted = ember.jit(lambda x: (x * w.detach()).sum())
    x = _randn(3)
    _close(jitted(x), (x * w.detach()).sum())
    x32 = x.to(ember.float32)
    _close(jitted(x32), (x32 * w.detach()).sum())  # another dtype: a new graph
    with ember.no_grad():
        _close(jitted(x), (x * w.detach()).sum())
    assert jitted.traces == 3
    assert [key[0] for key in jitted.cache.entries] == [
        ("grad mode", m) for m in (True, True, False)
    ]


def test_python_scalar_argument_is_a_guard() -> None:
    jitted = ember.jit(lambda x, k: x * k)
    x = _randn(3)
    _close(jitted(x, 2.0), x * 2.0)
    _close(jitted(x, 3.0), x * 3.0)
    _close(jitted(x, 2.0), x * 2.0)
    assert jitted.traces == 2


def test_retracing_warning_names_the_argument() -> None:
    jitted = ember.jit(lambda x, k: x * k, cache_size=2)
    x = _randn(3)
    jitted(x, 1.0)
    jitted(x, 2.0)
    with pytest.warns(UserWarning, match="traced 3 times.*argument 'k' keeps changing"):
        jitted(x, 3.0)
    _close(jitted(x, 4.0), x * 4.0)  # from now on a new key runs eagerly, not traced
    _close(jitted(x, 3.0), x * 3.0)  # a cached graph still runs compiled
    assert jitted.traces == 3


def test_item_inside_raises_with_the_line() -> None:
    def fn(x: ember.Tensor) -> ember.Tensor:
        if x.sum().item() > 0:  # value-dependent branch
            return x * 2.0
        return x

    with pytest.raises(
        JitError, match=r"(?s)item: the value.*test_jit.py:\d+: if x.sum\(\).item\(\) > 0.*hint"
    ):
        ember.jit(fn)(_randn(3))


@pytest.mark.parametrize(
    "read,what",
    [
        (lambda t: t.numpy(), "numpy()"),
        (lambda t: np.asarray(t), "np.asarray(tensor)"),
        (lambda t: t.tolist(), "tolist()"),
    ],
)
def test_host_reads_raise_instead_of_freezing_a_value(read, what) -> None:
    """A host read inside a trace would bake this call's value into the graph as a constant:
    every later call would reuse it (a DDPM step's timestep table lookup did exactly this)."""
    table = np.array([10.0, 20.0, 30.0], np.float32)

    def fn(i: ember.Tensor) -> ember.Tensor:
        return ember.tensor(table[np.asarray(read(i), np.int64)])

    with pytest.raises(JitError, match=re.escape(what) + ": the value of a tensor is needed"):
        ember.jit(fn)(ember.tensor([0, 2]))


def test_gathering_a_table_with_a_random_index_follows_each_draw() -> None:
    """The traceable form of the same lookup: tensor indexing is a graph op."""
    table = ember.tensor([10.0, 20.0, 30.0, 40.0])

    def fn(x: ember.Tensor) -> ember.Tensor:
        return table[ember.randint(0, 4, (8,))] + x

    jitted = ember.jit(fn)
    ember.manual_seed(0)
    compiled = [jitted(ember.zeros(8)).numpy() for _ in range(4)]
    ember.manual_seed(0)
    eager = [fn(ember.zeros(8)).numpy() for _ in range(4)]
    np.testing.assert_array_equal(np.stack(compiled), np.stack(eager))
    assert len({tuple(c) for c in compiled}) == 4  # a fresh draw every call


def test_bool_and_data_dependent_shape_raise() -> None:
    with pytest.raises(JitError, match="item"):
        ember.jit(lambda x: x * 2.0 if bool(x.sum() > 0) else x)(_randn(3))
    with pytest.raises(JitError, match="nonzero: the output shape depends on the data"):
        ember.jit(lambda x: ember.nonzero(x > 0))(_randn(3))


def test_fallback_runs_eagerly_with_a_warning() -> None:
    calls = []

    def fn(x: ember.Tensor) -> ember.Tensor:
        calls.append(1)
        return x * 2.0 if x.sum().item() > 0 else -x

    jitted = ember.jit(fn, fallback=True)
    x = _randn(3)
    with pytest.warns(UserWarning, match="running it eagerly"):
        _close(jitted(x), fn(x))
    _close(jitted(x), fn(x))  # this key stays eager, without warning again
    assert len(calls) == 4


def test_jit_enabled_false_disables_compilation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ember.config, "jit_enabled", False)
    calls = []

    @ember.jit
    def fn(x: ember.Tensor) -> ember.Tensor:
        calls.append(1)
        return x.sum().item()  # would raise JitError if traced

    assert fn(ember.ones(3, dtype=F64)) == 3.0
    assert fn(ember.ones(3, dtype=F64)) == 3.0
    assert len(calls) == 2 and fn.traces == 0


def test_decorator_with_options_and_outputs_structure() -> None:
    @ember.jit(cache_size=4)
    def fn(x: ember.Tensor) -> dict:
        return {"double": x * 2.0, "pair": (x + 1.0, 7)}

    x = _randn(2)
    fn(x)
    out = fn(x)
    _close(out["double"], x * 2.0)
    _close(out["pair"][0], x + 1.0)
    assert out["pair"][1] == 7 and fn.traces == 1


def test_graph_printer() -> None:
    jitted = ember.jit(lambda x, w: (x @ w).relu().sum())
    jitted(ember.ones(2, 3, dtype=F64), ember.ones(3, 4, dtype=F64))
    assert str(jitted.graph) == (
        "graph(\n"
        "    %0: float64[2, 3]  # arg0\n"
        "    %1: float64[3, 4]  # arg1\n"
        ") {\n"
        "  %2: float64[2, 4] = MatMul(%0, %1)\n"
        "  %3: float64[2, 4] = Relu(%2)\n"
        "  %4: float64[] = Sum(%3, dims=(0, 1), keepdim=False)\n"
        "  return (%4)\n"
        "}"
    )


def test_graph_before_first_call_raises() -> None:
    with pytest.raises(RuntimeError, match="has not been compiled yet"):
        _ = ember.jit(lambda x: x).graph


def test_explain_reports_counts_per_pass() -> None:
    text = ember.jit.explain(lambda x: (x * 1.0).t().t() + (x * 1.0).t().t(), _randn(2, 3))
    counts = {ln.split()[0]: int(ln.split()[1]) for ln in text.splitlines()[1:7]}
    # simplify: x*1 -> x and t(t(x)) -> x (the inner transposes die later); cse merges them
    assert counts == {
        "traced": 7, "transpose_matmul": 7, "simplify": 3, "cse": 2, "fold_constants": 2, "dce": 1
    }  # fmt: skip


def test_explain_a_training_step_compiles_after_the_warm_up() -> None:
    _, _, step = _mlp_step("adam")
    text = ember.jit.explain(step, _randn(8, 6), ember.tensor([0, 1, 2, 3, 0, 1, 2, 3]))
    assert text.startswith("ember.jit.explain(step):") and "not traced" not in text


SCALE = 2.0


def _scaled(x: ember.Tensor) -> ember.Tensor:
    return x * SCALE


def test_python_number_in_globals_is_a_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    jitted = ember.jit(_scaled)
    x = _randn(3)
    _close(jitted(x), x * 2.0)
    monkeypatch.setitem(globals(), "SCALE", 5.0)
    _close(jitted(x), x * 5.0)
    assert jitted.traces == 2


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop", "Adagrad"])
def test_optimizer_step_count_is_state_not_a_guard(name: str) -> None:
    """The step count is a tensor in the optimizer state: 10 jitted steps compile one graph
    and match 10 eager steps (parameters, optimizer state and the count itself)."""

    (eager_model, eager_opt, eager_step), (model, opt, step) = (
        _mlp_step(name, lr=0.01),
        _mlp_step(name, lr=0.01),
    )
    jitted = ember.jit(step)
    x, y = _randn(8, 6), ember.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    for _ in range(10):
        assert jitted(x, y).item() == pytest.approx(eager_step(x, y).item(), rel=1e-12)
    assert jitted.traces == 1
    for p, q in zip(eager_model.parameters(), model.parameters()):
        _close(p, q)
        assert opt.state[q]["step"].item() == 10.0
        for key, value in eager_opt.state[p].items():
            _close(value, opt.state[q][key])


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_learning_rate_from_a_scheduler_is_an_input(name: str) -> None:
    """A scheduler changes lr every step: one graph, the same run as eager, lr stays a float."""

    def make():
        model, opt, step = _mlp_step(name, lr=0.05, **({"momentum": 0.9} if name == "SGD" else {}))
        return model, opt, ember.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10), step

    (eager_model, _, eager_sched, eager_step), (model, opt, sched, step) = make(), make()
    jitted = ember.jit(step)
    x, y = _randn(8, 6), ember.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    for _ in range(10):
        assert jitted(x, y).item() == pytest.approx(eager_step(x, y).item(), rel=1e-12)
        sched.step()
        eager_sched.step()
    assert jitted.traces == 1 and type(opt.param_groups[0]["lr"]) is float
    for p, q in zip(eager_model.parameters(), model.parameters()):
        _close(p, q)


def test_scheduler_inside_the_jitted_step_raises() -> None:
    model, opt, step = _mlp_step("sgd")
    sched = ember.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

    def step_and_schedule(x: ember.Tensor, y: ember.Tensor) -> ember.Tensor:
        loss = step(x, y)
        sched.step()
        return loss

    with pytest.raises(JitError, match="(?s)sets a learning rate.*hint: call scheduler.step"):
        ember.jit(step_and_schedule)(_randn(8, 6), ember.tensor([0, 1, 2, 3, 0, 1, 2, 3]))


def test_changing_hyperparameter_is_named_when_it_keeps_retracing() -> None:
    _, opt, step = _mlp_step("sgd")
    jitted = ember.jit(step, cache_size=2)
    x, y = _randn(8, 6), ember.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    jitted(x, y)  # warm-up: creates .grad and the momentum buffers
    for momentum in (0.8, 0.7):
        opt.param_groups[0]["momentum"] = momentum
        jitted(x, y)
    opt.param_groups[0]["momentum"] = 0.6
    with pytest.warns(UserWarning, match=r"traced 3 times.*state of opt keeps changing"):
        jitted(x, y)


def test_in_place_update_of_an_argument_is_written_back() -> None:
    @ember.jit
    def accumulate(total: ember.Tensor, x: ember.Tensor) -> ember.Tensor:
        total.add_(x * 2.0)
        return total.sum()

    total, x = ember.zeros(3, dtype=F64), _randn(3)
    for i in range(3):
        s = accumulate(total, x)
        _close(total, x * 2.0 * (i + 1))
        _close(s, (x * 2.0 * (i + 1)).sum())
    assert accumulate.traces == 1


def test_jit_a_module_for_inference() -> None:
    model = nn.Sequential(nn.Linear(4, 3, dtype=F64), nn.Tanh())
    jitted = ember.jit(model)
    x = _randn(2, 4)
    with ember.no_grad():
        for _ in range(2):
            _close(jitted(x), model(x))
        with ember.no_grad():
            model[0].weight.mul_(0.5)  # state is read at call time, not frozen
        _close(jitted(x), model(x))
    assert jitted.traces == 1


def test_a_jitted_bound_method_guards_on_its_objects_modules() -> None:
    class Holder:
        def __init__(self) -> None:
            self.net = nn.Sequential(nn.Linear(4, 4, dtype=F64), nn.Dropout(0.5))

        def run(self, x: ember.Tensor) -> ember.Tensor:
            return self.net(x)

    holder = Holder()
    jitted, x = ember.jit(holder.run), _randn(3, 4)
    with ember.no_grad():
        jitted(x)
        holder.net.eval()  # the object behind the method changed: another graph
        _close(jitted(x), holder.net(x))
    assert jitted.traces == 2


def test_host_draw_outside_ember_random_raises() -> None:
    def fn(x: ember.Tensor) -> ember.Tensor:
        w = ember.empty(3, dtype=F64)
        nn.init.normal_(w)  # draws from the generator without ember.random.sample
        return x * w

    with pytest.raises(JitError, match="(?s)outside ember.random.sample.*hint: draw with ember"):
        ember.jit(fn)(_randn(3))


@pytest.mark.parametrize("kind", ["set_to_none", "zero_in_place", "microbatches"])
def test_step_variants_match_eager(kind: str) -> None:
    """zero_grad(set_to_none=False), two backward calls, reading parameters after the update."""

    def make():
        ember.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 8, dtype=F64), nn.Tanh(), nn.Linear(8, 3, dtype=F64))
        opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)

        def step(x: ember.Tensor, y: ember.Tensor) -> tuple:
            opt.zero_grad(set_to_none=kind != "zero_in_place")
            halves = ((x[:2], y[:2]), (x[2:], y[2:])) if kind == "microbatches" else ((x, y),)
            for xs, ys in halves:
                (F.cross_entropy(model(xs), ys) / len(halves)).backward()
            opt.step()
            return model(x).sum(), model[0].weight.grad, model[0].bias

        return model, step

    (eager_model, eager_step), (model, step) = make(), make()
    jitted = ember.jit(step)
    x, y = _randn(4, 5), ember.tensor([0, 1, 2, 1])
    for _ in range(4):
        for a, b in zip(eager_step(x, y), jitted(x, y)):
            _close(a, b)
    assert jitted.traces == 1
    b[2].detach().mul_(0.0)  # returned tensors do not share memory with the state
    for p, q in zip(eager_model.parameters(), model.parameters()):
        _close(p, q)


def test_output_that_requires_grad_runs_eagerly_with_a_warning() -> None:
    model = nn.Linear(3, 2, dtype=F64)
    jitted = ember.jit(lambda x: model(x).sum())
    x = _randn(4, 3)
    with pytest.warns(UserWarning, match="(?s)an output requires grad.*hint: jit the whole"):
        loss = jitted(x)
    loss.backward()  # eager result: backward outside still works
    _close(model.bias.grad, ember.full((2,), 4.0, dtype=F64))
    jitted(x).backward()  # the same key stays eager, silently


def test_step_count_state_dict_matches_pytorch_and_loads_old_ints() -> None:
    import torch

    w = ember.zeros(3, requires_grad=True)
    tw = torch.zeros(3, requires_grad=True)
    opt, topt = ember.optim.Adam([w], lr=0.1), torch.optim.Adam([tw], lr=0.1)
    for _ in range(2):
        w.grad, tw.grad = ember.ones(3), torch.ones(3)
        opt.step()
        topt.step()
    step, tstep = opt.state_dict()["state"][0]["step"], topt.state_dict()["state"][0]["step"]
    assert (step.shape, step.dtype.name, step.item()) == (tuple(tstep.shape), "float32", 2.0)
    assert tstep.dtype == torch.float32 and tstep.item() == 2.0
    saved = opt.state_dict()
    saved["state"][0]["step"] = 5  # a checkpoint written when the count was an int
    opt.load_state_dict(saved)
    restored = opt.state[w]["step"]
    assert isinstance(restored, ember.Tensor) and restored.item() == 5.0
