"""SummaryWriter's files read back by TensorBoard's own event reader: tags, steps and values of
every ``add_*``, purge_step on a resumed run, and the constructor's arguments."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")

from google.protobuf import text_format
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

import ember
from ember import nn
from ember.utils.tensorboard import SummaryWriter


def _read(path: str | Path) -> EventAccumulator:
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def _pixels(event) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(event.encoded_image_string)))


def test_scalars_from_tensors_arrays_and_numbers(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("loss/train", ember.tensor(0.5), 1)
        w.add_scalar("loss/train", np.float32(0.25), 2)
        w.add_scalar("loss/train", 0.125, 3, walltime=123.0)
        w.add_scalar("lr", np.array([1e-3]), 0)
        w.add_scalar("new", 2.5, 7, new_style=True, double_precision=True)
    acc = _read(tmp_path)
    assert set(acc.Tags()["scalars"]) == {"loss/train", "lr"}
    events = acc.Scalars("loss/train")
    assert [e.step for e in events] == [1, 2, 3]
    assert [e.value for e in events] == [0.5, 0.25, 0.125]
    assert events[-1].wall_time == 123.0
    assert acc.Scalars("lr")[0].value == pytest.approx(1e-3)
    new = acc.Tensors("new")[0]
    assert new.step == 7 and new.tensor_proto.double_val == [2.5]
    assert acc.SummaryMetadata("new").plugin_data.plugin_name == "scalars"
    with pytest.raises(ValueError, match="single number"):
        SummaryWriter(tmp_path / "x").add_scalar("bad", np.zeros(3))


def test_add_scalars_writes_one_run_per_key(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(3):
            w.add_scalars("run/loss", {"train": step, "val": ember.tensor(10.0 + step)}, step)
    assert {p.name for p in tmp_path.iterdir() if p.is_dir()} == {"run_loss_train", "run_loss_val"}
    val = _read(tmp_path / "run_loss_val").Scalars("run/loss")
    assert [(e.step, e.value) for e in val] == [(0, 10.0), (1, 11.0), (2, 12.0)]
    assert [e.value for e in _read(tmp_path / "run_loss_train").Scalars("run/loss")] == [0, 1, 2]


def test_histograms(tmp_path):
    values = np.random.default_rng(0).normal(size=1000)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("w", ember.tensor(values.astype(np.float32)), 4)
        w.add_histogram("w10", values, 4, bins=10)
        w.add_histogram("capped", values, 4, max_bins=7)
        with pytest.raises(ValueError, match="finite"):
            w.add_histogram("nan", [1.0, float("nan")])
    acc = _read(tmp_path)
    assert set(acc.Tags()["histograms"]) == {"w", "w10", "capped"}
    h = acc.Histograms("w")[0]
    assert h.step == 4
    v = h.histogram_value
    assert v.num == 1000 and sum(v.bucket) == 1000
    assert v.min == pytest.approx(values.min(), rel=1e-6)
    assert v.max == pytest.approx(values.max(), rel=1e-6)
    assert v.sum == pytest.approx(values.sum(), abs=1e-3)
    assert v.bucket_limit[-1] >= v.max
    ten = acc.Histograms("w10")[0].histogram_value
    counts, edges = np.histogram(values, bins=10)
    assert list(ten.bucket) == counts.tolist() and list(ten.bucket_limit) == edges[1:].tolist()
    capped = acc.Histograms("capped")[0].histogram_value
    assert len(capped.bucket) <= 7 and sum(capped.bucket) == 1000


def test_images_in_every_layout(tmp_path):
    chw = np.random.default_rng(0).random((3, 6, 5)).astype(np.float32)
    expected = np.round(chw.transpose(1, 2, 0) * 255).astype(np.uint8)
    batch = np.random.default_rng(1).integers(0, 256, (5, 4, 4, 1), dtype=np.uint8)
    with SummaryWriter(tmp_path) as w:
        w.add_image("chw", ember.tensor(chw), 1)
        w.add_image("hwc", expected, 2, dataformats="HWC")
        w.add_image("hw", np.full((2, 3), 0.5), 3, dataformats="HW")
        w.add_images("batch", batch, 4, dataformats="NHWC")
        with pytest.raises(ValueError, match="dataformats"):
            w.add_image("bad", chw, dataformats="HW")
        with pytest.raises(ValueError, match="add_images"):
            w.add_image("bad", batch, dataformats="NHWC")
    acc = _read(tmp_path)
    assert set(acc.Tags()["images"]) == {"chw", "hwc", "hw", "batch"}
    for tag, step in (("chw", 1), ("hwc", 2)):
        event = acc.Images(tag)[0]
        assert (event.step, event.width, event.height) == (step, 5, 6)
        np.testing.assert_array_equal(_pixels(event), expected)
    assert (_pixels(acc.Images("hw")[0]) == 128).all()
    grid = _pixels(acc.Images("batch")[0])  # 5 images: 3 per row, 2 rows
    assert grid.shape == (8, 12)
    np.testing.assert_array_equal(grid[4:8, 4:8], batch[4, :, :, 0])
    assert (grid[4:8, 8:12] == 0).all()


def test_figures(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    def figure() -> Figure:
        fig = Figure(figsize=(2, 1), dpi=50)
        fig.subplots().plot([0, 1], [1, 0])
        return fig

    with SummaryWriter(tmp_path) as w:
        w.add_figure("fig", figure(), 5)
        w.add_figure("figs", [figure(), figure()], 6)
    acc = _read(tmp_path)
    one = acc.Images("fig")[0]
    assert (one.step, one.width, one.height) == (5, 100, 50)
    assert _pixels(one).shape == (50, 100, 4)
    assert _pixels(acc.Images("figs")[0]).shape == (50, 200, 4)


def test_text(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_text("notes", "**bold** and *more*", 9)
    acc = _read(tmp_path)
    event = acc.Tensors("notes")[0]
    assert event.step == 9
    assert event.tensor_proto.string_val == [b"**bold** and *more*"]
    assert acc.SummaryMetadata("notes").plugin_data.plugin_name == "text"


def test_graph_of_a_traced_model(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with SummaryWriter(tmp_path) as w:
        w.add_graph(model, ember.randn(5, 4))
    graph = _read(tmp_path).Graph()
    nodes = {n.name: n for n in graph.node}
    assert {"input/arg0", "0/weight", "0/bias", "2/weight", "2/bias", "output/output0"} <= set(
        nodes
    )
    ops = [n.op for n in graph.node]
    assert ops.count("MatMul") == 2 and ops.count("Relu") == 1
    out = nodes["output/output0"]
    (shape,) = out.attr["_output_shapes"].list.shape
    assert [d.size for d in shape.dim] == [5, 2]
    for node in graph.node:  # every edge points at a node that exists
        assert all(i in nodes for i in node.input)


def test_graph_of_a_jit_function_and_of_its_graph(tmp_path):
    f = ember.jit(lambda x, y: (x * y).sum())
    f(ember.ones(3), ember.ones(3))
    for k, source in enumerate((f, f.graph)):
        with SummaryWriter(tmp_path / str(k)) as w:
            w.add_graph(source)
        ops = {n.op for n in _read(tmp_path / str(k)).Graph().node}
        assert {"Input", "Mul", "Output"} <= ops
    with pytest.raises(ValueError, match="input_to_model"):
        SummaryWriter(tmp_path / "x").add_graph(nn.Linear(2, 2))


def test_embedding_files_for_the_projector(tmp_path):
    mat = np.random.default_rng(0).normal(size=(6, 3))
    with SummaryWriter(tmp_path) as w:
        w.add_embedding(ember.tensor(mat), metadata=list("abcdef"), global_step=2, tag="emb")
        w.add_embedding(
            mat[:4],
            metadata=[["x", 1], ["y", 2], ["z", 3], ["w", 4]],
            metadata_header=["name", "id"],
            label_img=np.zeros((4, 1, 5, 7)),
        )
    config = text_format.Parse((tmp_path / "projector_config.pbtxt").read_text(), ProjectorConfig())
    entries = {e.tensor_name: e for e in config.embeddings}
    assert set(entries) == {"emb:00002", "default:00000"}
    emb = entries["emb:00002"]
    np.testing.assert_allclose(np.loadtxt(tmp_path / emb.tensor_path), mat, rtol=1e-8)
    assert (tmp_path / emb.metadata_path).read_text().split() == list("abcdef")
    default = entries["default:00000"]
    lines = (tmp_path / default.metadata_path).read_text().splitlines()
    assert lines == ["name\tid", "x\t1", "y\t2", "z\t3", "w\t4"]
    assert list(default.sprite.single_image_dim) == [7, 5]
    sprite = np.asarray(Image.open(tmp_path / default.sprite.image_path))
    assert sprite.shape == (10, 14)  # 4 images: 2 x 2
    with pytest.raises(ValueError, match="labels"):
        SummaryWriter(tmp_path).add_embedding(mat, metadata=["a"])


def test_hparams(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_hparams(
            {"lr": 0.1, "optimizer": "sgd", "layers": 2, "bn": True, "wd": ember.tensor(0.5)},
            {"hparam/accuracy": ember.tensor(0.75)},
            hparam_domain_discrete={"optimizer": ["sgd", "adam"]},
            run_name="trial1",
        )
    acc = _read(tmp_path / "trial1")
    assert acc.Scalars("hparam/accuracy")[0].value == 0.75
    content = acc.SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content
    start = hparams_metadata.parse_session_start_info_plugin_data(content)
    values = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in
              start.hparams.items()}  # fmt: skip
    assert values == {"lr": 0.1, "optimizer": "sgd", "layers": 2, "bn": True, "wd": 0.5}
    content = acc.SummaryMetadata(hparams_metadata.EXPERIMENT_TAG).plugin_data.content
    experiment = hparams_metadata.parse_experiment_plugin_data(content)
    assert [m.name.tag for m in experiment.metric_infos] == ["hparam/accuracy"]
    domain = {h.name: h for h in experiment.hparam_infos}["optimizer"].domain_discrete
    assert sorted(v.string_value for v in domain.values) == ["adam", "sgd"]
    assert hparams_metadata.SESSION_END_INFO_TAG in acc.Tags()["tensors"]
    with pytest.raises(TypeError, match="add_hparams"):
        SummaryWriter(tmp_path).add_hparams({"bad": [1, 2]}, {})


def test_purge_step_drops_the_steps_a_resumed_run_writes_again(tmp_path):
    with SummaryWriter(tmp_path) as w:  # a run that got to step 9, checkpointed at step 4
        for step in range(10):
            w.add_scalar("loss", float(step), step)
    with SummaryWriter(tmp_path, purge_step=5) as w:  # resumed from the checkpoint
        for step in range(5, 8):
            w.add_scalar("loss", 100.0 + step, step)
    events = _read(tmp_path).Scalars("loss")
    assert [e.step for e in events] == list(range(8))
    assert [e.value for e in events] == [0, 1, 2, 3, 4, 105, 106, 107]


def test_constructor_arguments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1", filename_suffix=".ember", max_queue=1000, flush_secs=3600)
    log_dir = Path(w.log_dir)
    assert w.get_logdir() == w.log_dir and log_dir.parent.name == "runs"
    assert log_dir.name.endswith("_lr0.1")
    w.add_scalar("x", 1.0, 0)
    w.flush()
    assert [e.value for e in _read(log_dir).Scalars("x")] == [1.0]
    w.close()
    w.add_scalar("x", 2.0, 1)  # after close: a new file
    w.close()
    files = sorted(os.listdir(log_dir))
    assert len(files) == 2 and all(f.endswith(".ember") for f in files)
    assert [e.value for e in _read(log_dir).Scalars("x")] == [1.0, 2.0]
