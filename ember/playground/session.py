"""The playground's training session: settings, the network, and the Trainer stepped live.

``Playground`` is single-threaded: it owns the data, the network, the optimizer, the
``ember.train.Trainer`` that trains it (driven from outside with ``start``/``step``/``finish``/
``reset``) and the ``GradientMonitor`` whose statistics feed ``ember doctor``'s detectors.
``snapshot()`` is everything the page draws, computed by the framework. ``LiveSession`` runs
a Playground in one background thread and hands snapshots to any number of readers.
"""

from __future__ import annotations

import math
import queue
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import ember
from ember import nn, optim
from ember.diagnostics import GradientMonitor, RunStats, draw_graph, run_detectors
from ember.nn import functional as F
from ember.nn.utils import MaxNorm
from ember.playground.data import DATASETS, make_dataset, split
from ember.random import Generator, get_rng_state, set_rng_state
from ember.train import EarlyStopping, FitState, History
from ember.train.batches import ShuffledBatches
from ember.train.loop import ClassifierMeter, evaluate
from ember.train.trainer import Trainer

__all__ = [
    "SETTINGS",
    "Setting",
    "SettingError",
    "validate",
    "PlaygroundNet",
    "Playground",
    "LiveSession",
]

EXTENT = 1.5  # the plane drawn: [-EXTENT, EXTENT]²
GRID = 48  # decision-boundary resolution (GRID × GRID points)
MONITOR_EVERY = 2  # GradientMonitor records every 2nd step
RECENT = 10  # recorded steps averaged for the gradient view


@dataclass(frozen=True)
class Setting:
    """One control: its type (``choice``, ``int``, ``float``, ``bool``), default and range."""

    name: str
    kind: str
    default: Any
    group: str
    help: str
    choices: tuple[str, ...] = ()
    lo: float = 0.0
    hi: float = 0.0
    slider: bool = False  # drawn as a range slider rather than a number box

    def parse(self, value: Any) -> Any:
        """``value`` as this setting's type, or ``SettingError`` saying what was expected."""
        if self.kind == "choice":
            if value not in self.choices:
                raise SettingError(
                    f"{self.name}: expected one of {', '.join(self.choices)}, got {value!r}"
                )
            return value
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise SettingError(f"{self.name}: expected true or false, got {value!r}")
        number: float | None = None
        if not isinstance(value, bool):
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = None
        whole = self.kind == "int"
        kind = "an integer" if whole else "a number"
        if number is None or not math.isfinite(number) or (whole and number != int(number)):
            raise SettingError(
                f"{self.name}: expected {kind} from {self.lo:g} to {self.hi:g}, got {value!r}"
            )
        if not self.lo <= number <= self.hi:
            raise SettingError(
                f"{self.name}: {number:g} is out of range: expected {kind} from "
                f"{self.lo:g} to {self.hi:g}"
            )
        return int(number) if whole else number


class SettingError(ValueError):
    """A setting the page sent is unknown, of the wrong type or out of range."""


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
}
OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")

# fmt: off
SETTINGS: tuple[Setting, ...] = (
    Setting("dataset", "choice", "spiral", "data", "the 2-D data set", tuple(DATASETS)),
    Setting("noise", "float", 0.2, "data", "how far points stray from their pattern",
            lo=0, hi=1, slider=True),
    Setting("samples", "int", 400, "data", "points in the data set", lo=20, hi=2000),
    Setting("val_fraction", "float", 0.3, "data", "share held out for validation",
            lo=0.1, hi=0.9, slider=True),
    Setting("depth", "int", 3, "network", "hidden layers", lo=1, hi=16),
    Setting("width", "int", 8, "network", "units per hidden layer", lo=1, hi=64),
    Setting("activation", "choice", "tanh", "network", "hidden units' nonlinearity",
            tuple(ACTIVATIONS)),
    Setting("residual", "bool", False, "network", "skip connections: h + layer(h)"),
    Setting("batch_norm", "bool", False, "network", "BatchNorm1d after each hidden Linear"),
    Setting("dropout", "float", 0.0, "regularisation", "Dropout probability",
            lo=0, hi=0.9, slider=True),
    Setting("weight_decay", "float", 0.0, "regularisation", "L2 penalty in the optimizer",
            lo=0, hi=1),
    Setting("max_norm", "float", 0.0, "regularisation",
            "MaxNorm bound on each unit's incoming weights (0: off)", lo=0, hi=100),
    Setting("activity_l2", "float", 0.0, "regularisation",
            "ActivityRegularizer l2 on the hidden activations (0: off)", lo=0, hi=1),
    Setting("input_noise", "float", 0.0, "regularisation", "GaussianNoise std on the inputs",
            lo=0, hi=1, slider=True),
    Setting("early_stopping", "bool", False, "regularisation", "EarlyStopping on val_loss"),
    Setting("patience", "int", 10, "regularisation",
            "epochs without improvement before early stopping", lo=1, hi=200),
    Setting("optimizer", "choice", "adam", "training", "update rule", OPTIMIZERS),
    Setting("lr", "float", 0.01, "training", "learning rate", lo=1e-6, hi=10),
    Setting("batch_size", "int", 16, "training", "samples per step", lo=1, hi=2000),
    Setting("epochs", "int", 1000, "training", "the most epochs to train", lo=1, hi=100000),
    Setting("seed", "int", 0, "training", "seed of the data, weights and batches",
            lo=0, hi=2**31 - 1),
)
# fmt: on
_BY_NAME = {s.name: s for s in SETTINGS}


def validate(changes: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """``base`` (default: every setting's default) updated with ``changes``, all checked."""
    if not isinstance(changes, dict):
        raise SettingError(f"settings: expected a JSON object, got {type(changes).__name__}")
    config = dict(base) if base is not None else {s.name: s.default for s in SETTINGS}
    for name, value in changes.items():
        if name not in _BY_NAME:
            raise SettingError(f"unknown setting {name!r}; known: {', '.join(_BY_NAME)}")
        config[name] = _BY_NAME[name].parse(value)
    n_train = config["samples"] - max(1, round(config["samples"] * config["val_fraction"]))
    if config["batch_size"] > n_train:
        raise SettingError(
            f"batch_size: {config['batch_size']} is more than the {n_train} training samples"
        )
    return config


class _Hidden(nn.Module):
    """One hidden layer: Linear, optional BatchNorm1d, the activation, optional Dropout."""

    def __init__(self, n_in: int, width: int, config: dict[str, Any]) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, width)
        self.norm = nn.BatchNorm1d(width) if config["batch_norm"] else nn.Identity()
        self.act = ACTIVATIONS[config["activation"]]()
        self.drop = nn.Dropout(config["dropout"]) if config["dropout"] else nn.Identity()

    def forward(self, x: Any) -> Any:
        return self.drop(self.act(self.norm(self.linear(x))))


class PlaygroundNet(nn.Module):
    """A multilayer perceptron for two classes in the plane, with optional skip connections
    (every hidden layer after the first adds its input to its output) and input noise."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        width = config["width"]
        self.noise = nn.GaussianNoise(config["input_noise"])
        self.hidden = nn.ModuleList(
            [_Hidden(2 if i == 0 else width, width, config) for i in range(config["depth"])]
        )
        self.out = nn.Linear(width, 2)
        self.residual = config["residual"]

    def forward(self, x: Any) -> Any:
        h = self.noise(x)
        for i, layer in enumerate(self.hidden):
            h = h + layer(h) if self.residual and i > 0 else layer(h)
        return self.out(h)


def _optimizer(config: dict[str, Any], params: Any) -> optim.Optimizer:
    lr, wd = config["lr"], config["weight_decay"]
    name = config["optimizer"]
    if name == "sgd":
        return optim.SGD(params, lr=lr, weight_decay=wd)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=wd)
    return optim.RMSprop(params, lr=lr, weight_decay=wd)


class _Run:
    """A network with its optimizer, regularisers and one-step function, built from a config."""

    def __init__(self, config: dict[str, Any], train: tuple[np.ndarray, np.ndarray]) -> None:
        ember.manual_seed(config["seed"])
        self.model = PlaygroundNet(config)
        self.optimizer = _optimizer(config, self.model.parameters())
        self.max_norm = MaxNorm(self.model, config["max_norm"]) if config["max_norm"] else None
        l2 = config["activity_l2"]
        hidden = self.model.hidden if l2 else []
        self.activity = [nn.ActivityRegularizer(h.act, l2=l2) for h in hidden]
        self.graph: Any = None
        self.graph_due = False
        x, y = ember.from_numpy(train[0]), ember.from_numpy(train[1])
        self.plan = ShuffledBatches(
            lambda idx: (x[idx], y[idx]),
            len(train[0]),
            config["batch_size"],
            Generator().manual_seed(config["seed"]),
        )

    def step(self, batch: tuple[Any, Any]) -> dict[str, Any]:
        """Forward, loss (+ activity penalty), backward, update, max-norm: one step."""
        inputs, targets = batch
        outputs = self.model(inputs)
        data_loss = F.cross_entropy(outputs, targets)
        loss = data_loss
        for reg in self.activity:
            loss = loss + reg.penalty()
        if self.graph_due:  # drawn before backward() frees the graph
            self.graph = draw_graph(loss, dict(self.model.named_parameters()))
            self.graph_due = False
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        if self.max_norm is not None:
            self.max_norm.apply()
        for reg in self.activity:
            reg.reset()
        return {"loss": data_loss.detach(), "outputs": outputs.detach()}


def _grid() -> Any:
    axis = np.linspace(-EXTENT, EXTENT, GRID, dtype=np.float32)
    gx, gy = np.meshgrid(axis, -axis)  # row 0 is the top of the picture (largest y)
    return ember.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1))


class Playground:
    """One live training session (see the module docstring); not thread-safe."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = validate(config or {})
        self.running = False
        self.speed: dict[str, Any] | None = None
        self._grid = _grid()
        self._build()

    # -- controls -------------------------------------------------------------------------------
    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply validated ``changes``: new data and a new network, trained from scratch."""
        self.config = validate(changes, self.config)
        self._build()
        return self.config

    def start(self) -> None:
        """Train continuously (``LiveSession`` calls ``step`` while ``running``)."""
        self.running = not self.trainer.finished

    def pause(self) -> None:
        """Stop after the current step."""
        self.running = False

    def step(self) -> dict[str, float] | None:
        """One optimisation step through the Trainer; None (and paused) once training ended."""
        if self.trainer.finished:
            self.running = False
            return None
        with np.errstate(all="ignore"):  # a diverged run shows on the page, not as warnings
            values = self.trainer.step()
        if self.trainer.finished:  # epochs done or early stopping: let the callbacks finish
            self.trainer.finish()
            self.running = False
        return values

    def reset(self) -> None:
        """Back to the initial weights, optimizer and history (``Trainer.reset``)."""
        self.running = False
        self.trainer.reset()
        self.monitor.remove()
        self._new_callbacks()
        self.run.graph_due = True

    @property
    def status(self) -> str:
        """``ready`` (no step yet), ``running``, ``paused`` or ``finished``."""
        if self.trainer.finished:
            return "finished"
        if self.running:
            return "running"
        return "paused" if self.trainer.state.step else "ready"

    # -- building -------------------------------------------------------------------------------
    def _build(self) -> None:
        if getattr(self, "monitor", None) is not None:
            self.monitor.remove()
        cfg = self.config
        points, labels = make_dataset(cfg["dataset"], cfg["samples"], cfg["noise"], cfg["seed"])
        self.train_data, self.val_data = split(points, labels, cfg["val_fraction"])
        self.run = _Run(cfg, self.train_data)
        val = [(ember.from_numpy(self.val_data[0]), ember.from_numpy(self.val_data[1]))]
        model = self.run.model
        self.trainer = Trainer(
            self.run.step,
            self.run.plan,
            FitState(model, self.run.optimizer, None, History()),
            cfg["epochs"],
            meter=ClassifierMeter(("accuracy",)),
            evaluate=lambda: evaluate(model, F.cross_entropy, val, prefix="val_"),
            progress=False,
        )
        self.trainer.start()  # begun empty: _new_callbacks begins the callbacks it adds
        self._new_callbacks()
        self.run.graph_due = True
        self.speed = None

    def _new_callbacks(self) -> None:
        """A fresh GradientMonitor (and EarlyStopping), begun at once, so that ``reset`` can
        swap clean ones into the started Trainer."""
        self.monitor = GradientMonitor(self.run.model, every=MONITOR_EVERY)
        callbacks: list[Any] = [self.monitor]
        if self.config["early_stopping"]:
            patience = self.config["patience"]
            callbacks.append(EarlyStopping("val_loss", patience, restore_best_weights=True))
        self.trainer.callbacks = callbacks
        for cb in callbacks:
            cb.on_train_begin(self.trainer.state)

    # -- measuring ------------------------------------------------------------------------------
    def measure_speed(self, steps: int = 20) -> dict[str, Any]:
        """Median step time of this configuration, eager and compiled by ``ember.jit``, each
        trained by its own Trainer on a fresh copy (the live run and its RNG are untouched)."""
        rng = get_rng_state()
        result: dict[str, Any] = {"steps": steps}
        try:
            for name, jit in (("eager", False), ("jit", True)):
                run = _Run(self.config, self.train_data)
                state = FitState(run.model, run.optimizer, None, History())
                meter = ClassifierMeter(("accuracy",))
                trainer = Trainer(
                    run.step, run.plan, state, 10**6, meter=meter, jit=jit, progress=False
                )
                for _ in range(3):  # the jit traces on its second call
                    trainer.step()
                times = []
                for _ in range(steps):
                    t0 = time.perf_counter()
                    trainer.step()
                    times.append(time.perf_counter() - t0)
                result[f"{name}_ms"] = 1000 * statistics.median(times)
        except Exception as exc:  # a graph ember.jit cannot compile: say why on the page
            result["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        finally:
            set_rng_state(rng)
        self.speed = result
        return result

    # -- what the page draws --------------------------------------------------------------------
    def gradients(self, stats: RunStats | None = None) -> list[dict[str, Any]]:
        """Per weight layer (input first): gradient RMS, the geometric mean over the last
        recorded steps (the quantity ``vanishing_gradients`` compares)."""
        stats = stats or self.monitor.stats()
        idx = np.flatnonzero(stats.param_ndim >= 2)
        if stats.grad_norm.shape[0] == 0:
            return []
        recent = stats.grad_rms[-RECENT:, idx]
        with np.errstate(divide="ignore"):
            logs = np.log10(np.where(recent > 0, recent, np.nan))
        out = []
        for j, i in enumerate(idx):
            column = logs[:, j][np.isfinite(logs[:, j])]
            rms = float(10 ** column.mean()) if column.size else 0.0
            out.append({"name": stats.param_names[i].removesuffix(".weight"), "rms": rms})
        return out

    def boundary(self) -> list[float]:
        """P(class 1) over a GRID × GRID lattice of the plane, row 0 at the top."""
        model = self.run.model
        was = model.training
        model.eval()
        with ember.no_grad(), np.errstate(all="ignore"):
            p = F.softmax(model(self._grid), dim=1)[:, 1].numpy()
        model.train(was)
        return [round(float(v), 3) for v in p]

    def graph(self) -> dict[str, Any] | None:
        g = self.run.graph
        if g is None:
            return None
        return {"nodes": g.nodes, "edges": [list(e) for e in g.edges]}

    def snapshot(self) -> dict[str, Any]:
        """Everything the page shows, as JSON-ready values."""
        state = self.trainer.state
        rows = state.history.rows
        history = {
            k: [r.get(k) for r in rows]
            for k in ("epoch", "loss", "val_loss", "accuracy", "val_accuracy")
        }
        stats = self.monitor.stats()
        findings = [vars(f) for f in run_detectors(stats, patience=self.config["patience"])]
        return _json_safe(
            {
                "status": self.status,
                "step": state.step,
                "epoch": state.epoch,
                "config": self.config,
                "extent": EXTENT,
                "grid": GRID,
                "train": _points(self.train_data),
                "val": _points(self.val_data),
                "boundary": self.boundary(),
                "history": history,
                "gradients": self.gradients(stats),
                "findings": findings,
                "graph": self.graph(),
                "speed": self.speed,
            }
        )


def _json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (a diverged run) replaced by None: valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _points(data: tuple[np.ndarray, np.ndarray]) -> list[list[float]]:
    return [[round(float(x), 3), round(float(y), 3), int(c)] for (x, y), c in zip(*data)]


class LiveSession:
    """Runs a Playground in a background thread: commands in, snapshots out.

    ``command`` validates at once (raising ``SettingError``) and queues the rest for the
    worker thread, which alone touches the network. Snapshots are published at most every
    ``interval`` seconds while training and after every command; ``wait`` blocks a reader
    until a snapshot newer than the one it has.
    """

    ACTIONS = ("configure", "start", "pause", "step", "reset")

    def __init__(self, config: dict[str, Any] | None = None, interval: float = 0.25) -> None:
        self.interval = interval
        self.config = validate(config or {})
        self._commands: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._changed = threading.Condition()
        self._version = 0
        self._snapshot: dict[str, Any] = {}
        self._closed = False
        self._error: str | None = None
        self._playground = Playground(self.config)
        self._publish()
        self._thread = threading.Thread(target=self._loop, name="playground", daemon=True)
        self._thread.start()

    def command(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Queue ``action`` (one of ``ACTIONS``); ``configure`` checks ``params`` first."""
        if action not in self.ACTIONS:
            raise SettingError(f"unknown action {action!r}; known: {', '.join(self.ACTIONS)}")
        if action == "configure":
            self.config = validate(params or {}, self.config)
            params = self.config
        self._commands.put((action, params or {}))
        return self.config

    def latest(self) -> tuple[int, dict[str, Any]]:
        with self._changed:
            return self._version, self._snapshot

    def wait(self, version: int, timeout: float) -> tuple[int, dict[str, Any]]:
        """The first snapshot newer than ``version`` (or the current one after ``timeout``)."""
        with self._changed:
            self._changed.wait_for(lambda: self._version > version or self._closed, timeout)
            return self._version, self._snapshot

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._thread.join(timeout=10)

    @property
    def closed(self) -> bool:
        return self._closed

    def _publish(self) -> None:
        try:
            snap = self._playground.snapshot()
        except Exception as exc:  # show the last good state with the reason
            snap = dict(self._snapshot)
            self._error = self._error or f"{type(exc).__name__}: {exc}".splitlines()[0]
        snap["error"] = self._error
        with self._changed:
            self._version += 1
            snap["version"] = self._version
            self._snapshot = snap
            self._changed.notify_all()

    def _apply(self, action: str, params: dict[str, Any]) -> None:
        pg = self._playground
        if action == "configure":
            running = pg.running
            pg.configure(params)
            if running:
                pg.start()
        elif action == "step":
            pg.pause()
            pg.step()
        else:
            getattr(pg, action)()

    def _loop(self) -> None:
        pg = self._playground
        last = time.perf_counter()
        while not self._closed:
            try:
                action, params = self._commands.get(timeout=0 if pg.running else 0.1)
            except queue.Empty:
                action = ""
            try:
                if action:
                    self._error = None
                    self._apply(action, params)
                if pg.running:
                    if pg.speed is None:
                        pg.measure_speed()
                    pg.step()
                if action or (pg.running and time.perf_counter() - last >= self.interval):
                    self._publish()
                    last = time.perf_counter()
                elif not pg.running and self._snapshot.get("status") == "running":
                    self._publish()  # training just ended: show the final state
            except Exception as exc:  # keep serving: the page shows what went wrong
                pg.pause()
                self._error = f"{type(exc).__name__}: {exc}".splitlines()[0]
                self._publish()
