"""``add_hparams``'s summaries for TensorBoard's HParams dashboard: the experiment (which
hyperparameters and metrics exist), this trial's values, and its end."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2, summary_v2

from ember.utils.tensorboard.convert import to_float

__all__ = ["hparams_summaries"]


def _value(name: str, value: Any) -> bool | int | float | str:
    if isinstance(value, (bool, int, float, str)):
        return value
    try:
        return to_float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"add_hparams: {name}={value!r}: expected a bool, int, float, str or one-element tensor"
        ) from None


def _session_end() -> summary_pb2.Summary:
    data = plugin_data_pb2.HParamsPluginData(
        version=metadata.PLUGIN_DATA_VERSION,
        session_end_info=plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS),
    )
    value = summary_pb2.Summary.Value(
        tag=metadata.SESSION_END_INFO_TAG,
        metadata=metadata.create_summary_metadata(data),
        tensor=metadata.NULL_TENSOR,
    )
    return summary_pb2.Summary(value=[value])


def hparams_summaries(
    hparams: Mapping[str, Any],
    metrics: Sequence[str],
    domains: Mapping[str, Sequence[Any]] | None,
    trial: str,
) -> list[summary_pb2.Summary]:
    """The experiment (``domains`` lists the values of discrete hyperparameters), the trial's
    hyperparameter values (``trial`` names it) and its successful end."""
    values = {name: _value(name, v) for name, v in hparams.items()}
    domains = domains or {}
    infos = [
        summary_v2.HParam(name, summary_v2.Discrete(domains[name]) if name in domains else None)
        for name in values
    ]
    experiment = summary_v2.hparams_config_pb(infos, [summary_v2.Metric(tag) for tag in metrics])
    return [experiment, summary_v2.hparams_pb(values, trial_id=trial), _session_end()]
