"""``SummaryWriter``: PyTorch's TensorBoard logging API, writing event files in ``log_dir``."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from ember.autograd import no_grad
from ember.jit import Graph, JitFunction, jit
from ember.utils.tensorboard import summaries
from ember.utils.tensorboard.convert import to_float, to_numpy
from ember.utils.tensorboard.graph import graph_def
from ember.utils.tensorboard.hparams import hparams_summaries
from ember.utils.tensorboard.images import render_figure, tile, to_nhwc
from ember.utils.tensorboard.projector import write_embedding

__all__ = ["SummaryWriter"]


class SummaryWriter:
    """Writes scalars, histograms, images, text, graphs, embeddings and hyperparameters as
    TensorBoard events in ``log_dir`` (default ``runs/DATE_HOST`` + ``comment``).

    ``purge_step``: when a run resumes from a checkpoint at step N, pass N + 1 (the first step
    it will write again): TensorBoard then discards whatever the earlier run logged at steps
    >= ``purge_step``, so the resumed run's steps are not shown twice. Events are queued (up to
    ``max_queue``) and written every ``flush_secs`` seconds, at ``flush()`` and at ``close()``.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: int = 120,
        filename_suffix: str = "",
    ) -> None:
        if log_dir is None:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")
        self.log_dir = str(log_dir)
        self.comment = comment
        self.purge_step = purge_step
        self.max_queue, self.flush_secs = max_queue, flush_secs
        self.filename_suffix = filename_suffix
        self._writers: dict[str, EventFileWriter] = {}  # "" is log_dir's, others add_scalars'
        self._file("")

    # -- files ------------------------------------------------------------------------------------
    def get_logdir(self) -> str:
        """The directory the event files are written to."""
        return self.log_dir

    def _file(self, subdir: str) -> EventFileWriter:
        """The writer of ``log_dir/subdir`` (opened on first use; after ``close`` a new file)."""
        writer = self._writers.get(subdir)
        if writer is None:
            path = os.path.join(self.log_dir, subdir) if subdir else self.log_dir
            writer = EventFileWriter(path, self.max_queue, self.flush_secs, self.filename_suffix)
            if self.purge_step is not None:
                start = event_pb2.SessionLog(status=event_pb2.SessionLog.START)
                writer.add_event(event_pb2.Event(step=self.purge_step, session_log=start))
            self._writers[subdir] = writer
        return writer

    def _write(
        self,
        summary: summary_pb2.Summary,
        global_step: int | None,
        walltime: float | None,
        subdir: str = "",
    ) -> None:
        event = event_pb2.Event(
            summary=summary,
            wall_time=time.time() if walltime is None else walltime,
            step=0 if global_step is None else int(global_step),
        )
        self._file(subdir).add_event(event)

    def flush(self) -> None:
        """Write the queued events to disk."""
        for writer in self._writers.values():
            writer.flush()

    def close(self) -> None:
        """Flush and close the event files (a later ``add_*`` opens new ones)."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        self.purge_step = None  # purging happened once: later files must not purge again

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- values ---------------------------------------------------------------------------------
    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None:
        """One number (tensor, NumPy value or Python number) at ``global_step``."""
        value = to_float(scalar_value)
        self._write(
            summaries.scalar(tag, value, new_style, double_precision), global_step, walltime
        )

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: Mapping[str, Any],
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Several numbers in one chart: each key is its own run ``log_dir/MAIN_KEY`` whose
        scalar is tagged ``main_tag``."""
        for key, value in tag_scalar_dict.items():
            subdir = f"{main_tag.replace('/', '_')}_{key}"
            summary = summaries.scalar(main_tag, to_float(value))
            self._write(summary, global_step, walltime, subdir)

    def add_histogram(
        self,
        tag: str,
        values: Any,
        global_step: int | None = None,
        bins: str | int = "tensorflow",
        walltime: float | None = None,
        max_bins: int | None = None,
    ) -> None:
        """The distribution of ``values`` (see ``summaries.histogram`` for ``bins``)."""
        summary = summaries.histogram(tag, to_numpy(values), bins, max_bins)
        self._write(summary, global_step, walltime)

    def add_image(
        self,
        tag: str,
        img_tensor: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        dataformats: str = "CHW",
    ) -> None:
        """One image; floats in [0, 1], or uint8; ``dataformats`` e.g. "CHW", "HWC", "HW"."""
        if "N" in dataformats.upper():
            raise ValueError(f"add_image: dataformats {dataformats!r} has N: use add_images")
        image = to_nhwc(to_numpy(img_tensor), dataformats)[0]
        self._write(summaries.image(tag, image), global_step, walltime)

    def add_images(
        self,
        tag: str,
        img_tensor: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        dataformats: str = "NCHW",
    ) -> None:
        """A batch of images, shown tiled into one grid."""
        if "N" not in dataformats.upper():
            raise ValueError(f"add_images: dataformats {dataformats!r} lacks N: use add_image")
        grid = tile(to_nhwc(to_numpy(img_tensor), dataformats))
        self._write(summaries.image(tag, grid), global_step, walltime)

    def add_figure(
        self,
        tag: str,
        figure: Any,
        global_step: int | None = None,
        close: bool = True,
        walltime: float | None = None,
    ) -> None:
        """A matplotlib figure (or a list of them, tiled) as an image; ``close`` closes it."""
        figures = list(figure) if isinstance(figure, (list, tuple)) else [figure]
        pixels = [render_figure(f) for f in figures]
        if close and "matplotlib.pyplot" in sys.modules:  # pyplot keeps figures it created
            for f in figures:
                sys.modules["matplotlib.pyplot"].close(f)
        if isinstance(figure, (list, tuple)):
            self.add_images(tag, np.stack(pixels), global_step, walltime, dataformats="NHWC")
        else:
            self.add_image(tag, pixels[0], global_step, walltime, dataformats="HWC")

    def add_text(
        self,
        tag: str,
        text_string: str,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """A text, rendered as Markdown by TensorBoard."""
        self._write(summaries.text(tag, text_string), global_step, walltime)

    # -- structure ------------------------------------------------------------------------------
    def add_graph(
        self,
        model: Any,
        input_to_model: Any = None,
        verbose: bool = False,
        use_strict_trace: bool = True,
    ) -> None:
        """The graph of ``model`` traced by ``ember.jit`` on ``input_to_model`` (a tensor or a
        tuple of them). ``model`` may also be an already compiled ``ember.jit`` function or its
        ``Graph``. ``verbose`` prints the graph; ``use_strict_trace`` is accepted for torch's
        signature (ember's trace is always strict)."""
        if isinstance(model, Graph):
            graph, owner = model, None
        elif isinstance(model, JitFunction):
            graph, owner = model.graph, None
        else:
            graph, owner = _trace(model, input_to_model), model
        if verbose:
            print(graph)
        names = {}
        if owner is not None and hasattr(owner, "named_parameters"):
            named = [*owner.named_parameters(), *owner.named_buffers()]
            names = {id(t): name for name, t in named}
        event = event_pb2.Event(
            graph_def=graph_def(graph, names).SerializeToString(), wall_time=time.time()
        )
        self._file("").add_event(event)

    def add_embedding(
        self,
        mat: Any,
        metadata: Sequence[Any] | None = None,
        label_img: Any = None,
        global_step: int | None = None,
        tag: str = "default",
        metadata_header: Sequence[str] | None = None,
    ) -> None:
        """Vectors ``mat`` [N, D] for the projector, with optional labels (one per row, or
        rows of columns named by ``metadata_header``) and label images [N, C, H, W]."""
        step = 0 if global_step is None else int(global_step)
        images = None if label_img is None else to_nhwc(to_numpy(label_img), "NCHW")
        write_embedding(
            Path(self.log_dir),
            f"{step:05d}/{tag}",
            f"{tag}:{step:05d}",
            to_numpy(mat).astype(np.float64),
            metadata,
            images,
            metadata_header,
        )

    def add_hparams(
        self,
        hparam_dict: Mapping[str, Any],
        metric_dict: Mapping[str, Any],
        hparam_domain_discrete: Mapping[str, Sequence[Any]] | None = None,
        run_name: str | None = None,
        global_step: int | None = None,
    ) -> None:
        """One trial for the HParams dashboard: its hyperparameters and final metrics, in a
        run of its own, ``log_dir/run_name`` (default: the current time)."""
        run = run_name or str(time.time())
        for summary in hparams_summaries(
            hparam_dict, list(metric_dict), hparam_domain_discrete, run
        ):
            self._write(summary, global_step, None, run)
        for tag, value in metric_dict.items():
            self._write(summaries.scalar(tag, to_float(value)), global_step, None, run)


def _trace(model: Any, inputs: Any) -> Any:
    """The jit graph of ``model(*inputs)`` (without autograd: a forward graph only)."""
    if inputs is None:
        raise ValueError("add_graph: input_to_model is needed to trace a model")
    args = inputs if isinstance(inputs, (tuple, list)) else (inputs,)
    traced = jit(lambda *xs: model(*xs))
    with no_grad():
        traced(*args)
    return traced.graph
