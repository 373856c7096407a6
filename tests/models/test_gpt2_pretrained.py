"""GPT-2 checkpoints saved by ``transformers`` load into ember's GPT and give its logits."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("regex")

import torch  # noqa: E402

import ember  # noqa: E402
from ember.cli import main  # noqa: E402
from ember.io import load_file  # noqa: E402
from ember.models.gpt import GPT  # noqa: E402
from ember.models.gpt2 import config_from_hf, from_hf_state_dict, from_pretrained  # noqa: E402
from tests.gpt2_files import write_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    directory = tmp_path_factory.mktemp("gpt2")
    return directory, write_checkpoint(directory)


def _tokens(vocab_size: int, shape: tuple[int, int] = (2, 24)) -> np.ndarray:
    return np.random.default_rng(0).integers(0, vocab_size, shape)


def _logits_match(ours: GPT, theirs: Any, atol: float = 1e-5) -> None:
    idx = _tokens(ours.config.vocab_size)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(idx)).logits.numpy()
    with ember.no_grad():
        got = ours(ember.from_numpy(idx))[0].numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=atol)


def test_logits_match_transformers(checkpoint: tuple[Path, Any]) -> None:
    directory, theirs = checkpoint
    ours = GPT.from_pretrained(directory)
    assert not ours.training and ours.config.gelu_approximate == "tanh"
    assert ours.lm_head.weight is ours.transformer.wte.weight
    _logits_match(ours, theirs)


def test_the_configuration_is_what_makes_it_match(checkpoint: tuple[Path, Any]) -> None:
    """ember's defaults (exact GELU, another LayerNorm eps) give visibly different logits."""
    directory, theirs = checkpoint
    hf = json.loads((directory / "config.json").read_text())
    config = config_from_hf(hf)
    state = from_hf_state_dict(load_file(directory / "model.safetensors"), config)
    for change in ({"gelu_approximate": "none"}, {"layer_norm_eps": 1e-3}):
        ours = GPT(dataclasses.replace(config, **change), gpt2_init=False).eval()
        ours.load_state_dict(state)
        with pytest.raises(AssertionError):
            _logits_match(ours, theirs, atol=1e-4)


def test_untied_head_and_other_eps(tmp_path: Path) -> None:
    theirs = write_checkpoint(tmp_path, tie_word_embeddings=False, layer_norm_epsilon=1e-3)
    ours = from_pretrained(tmp_path)
    assert ours.lm_head.weight is not ours.transformer.wte.weight
    assert ours.config.layer_norm_eps == 1e-3
    _logits_match(ours, theirs)


def test_old_layout_pytorch_bin_with_mask_buffers(checkpoint: tuple[Path, Any], tmp_path: Path):
    """Older checkpoints: pytorch_model.bin, names without ``transformer.``, mask buffers."""
    directory, theirs = checkpoint
    state = {k.removeprefix("transformer."): v for k, v in theirs.state_dict().items()}
    state["h.0.attn.bias"] = torch.ones(1, 1, 24, 24).tril()
    state["h.0.attn.masked_bias"] = torch.tensor(-1e4)
    torch.save(state, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text((directory / "config.json").read_text())
    _logits_match(from_pretrained(tmp_path), theirs)


def test_unsupported_configs_are_refused(checkpoint: tuple[Path, Any]) -> None:
    hf = json.loads((checkpoint[0] / "config.json").read_text())
    refusals = {
        "model_type": ("llama", "a 'llama' model"),
        "activation_function": ("relu", "the MLP uses 'relu'"),
        "n_inner": (40, "the MLP is 40 wide"),
        "scale_attn_by_inverse_layer_idx": (True, "not scaled by 1/sqrt"),
    }
    for key, (value, message) in refusals.items():
        with pytest.raises(ValueError, match=f"gpt2: .*{message}"):
            config_from_hf({**hf, key: value})


def test_a_weight_that_does_not_map_is_a_load_error(checkpoint: tuple[Path, Any]) -> None:
    directory, _ = checkpoint
    config = config_from_hf(json.loads((directory / "config.json").read_text()))
    state = load_file(directory / "model.safetensors")
    state["h.0.attn.q_proj.weight"] = ember.zeros(2)
    with pytest.raises(RuntimeError, match='Unexpected key.*"transformer.h.0.attn.q_proj.weight"'):
        GPT(config).load_state_dict(from_hf_state_dict(state, config))


def _greedy(theirs: Any, ids: list[int], n: int) -> list[int]:
    """transformers' model decoding greedily, one full forward per token."""
    with torch.no_grad():
        for _ in range(n):
            logits = theirs(torch.tensor([ids])).logits[0, -1]
            ids = ids + [int(logits.argmax())]
    return ids


def test_ember_sample_runs_on_the_directory(checkpoint: tuple[Path, Any]) -> None:
    from transformers import GPT2Tokenizer

    directory, theirs = checkpoint
    tokenizer = GPT2Tokenizer.from_pretrained(str(directory))
    prompt = "Hello world! It's"
    expected = tokenizer.decode(_greedy(theirs, tokenizer.encode(prompt), 6))
    for jit in ([], ["--jit"]):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["sample", str(directory), "--prompt", prompt, "--tokens", "6"]
                        + ["--top-k", "1", "--seed", "0", *jit])  # fmt: skip
        assert code == 0
        assert out.getvalue() == expected + "\n"
