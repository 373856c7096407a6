"""``benchmarks/gpt_time_to_loss``: nanoGPT's data files, the two commands, the log parsing.

nanoGPT itself is not installed here: a stand-in ``train.py`` in a temporary checkout prints
nanoGPT's evaluation lines, so the launch (thread count, overrides, working directory) and
the parsing run for real. The ember side runs ``ember train gpt`` for a few iterations. No
test asserts a timing.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from benchmarks import gpt_time_to_loss as g  # noqa: E402

TEXT = "".join(f"line {i}: to be, or not to be, that is the question.\n" for i in range(400))

# Prints nanoGPT's evaluation lines (one loss per --eval_interval) after checking what the
# benchmark hands it: its thread count, its working directory and the overrides.
FAKE_TRAIN = """
import sys, os, torch
assert torch.get_num_threads() == 1, torch.get_num_threads()
assert os.path.isfile("configurator.py")
assert sys.argv[1] == "config/train_shakespeare_char.py", sys.argv
args = dict(a[2:].split("=", 1) for a in sys.argv[2:])
assert args["device"] == "cpu" and args["compile"] == "False" and args["bias"] == "True"
assert os.path.isfile(os.path.join(args["dataset"], "train.bin"))
step, end = int(args["eval_interval"]), int(args["max_iters"])
for i in range(0, end + 1, step):
    print(f"step {i}: train loss {3 - i / end:.4f}, val loss {3.1 - i / end:.4f}")
    print(f"iter {i}: loss 2.0, time 1.0ms, mfu -100.00%")
"""


@pytest.fixture()
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "input.txt"
    path.write_text(TEXT)
    return path


def test_nanogpt_data_is_embers_split(tmp_path: Path, text_file: Path) -> None:
    sizes = g.prepare_nanogpt_data(text_file, tmp_path / "data")
    meta = pickle.loads((tmp_path / "data" / "meta.pkl").read_bytes())
    assert meta["vocab_size"] == sizes["vocab_size"] == len(set(TEXT))
    train = np.fromfile(tmp_path / "data" / "train.bin", dtype=np.uint16)
    val = np.fromfile(tmp_path / "data" / "val.bin", dtype=np.uint16)
    assert (len(train), len(val)) == (sizes["train"], sizes["val"])
    assert "".join(meta["itos"][int(i)] for i in np.concatenate([train, val])) == TEXT
    assert len(val) == pytest.approx(0.1 * len(TEXT), abs=1)
    assert all(meta["stoi"][c] == i for i, c in meta["itos"].items())


def test_parse_and_first_at_or_below(tmp_path: Path) -> None:
    lines = [
        (0.5, "step 0: train loss 4.1000, val loss 4.2000"),
        (1.0, "iter 0: loss 4.1, time 10.0ms, mfu -100.00%"),
        (9.0, "step 100: train loss 2.0000, val loss 1.9000"),
    ]
    curve = g.parse_nanogpt(lines)
    assert [(r["iter"], r["time_s"], r["val_loss"]) for r in curve] == [
        (0, 0.5, 4.2),
        (100, 9.0, 1.9),
    ]
    csv_path = tmp_path / "metrics.csv"
    csv_path.write_text("iter,loss,train_loss,val_loss,lr,time\n50,2.5,2.4,2.31234,1e-3,3.0\n")
    ember_lines = [(2.0, "gpt: 1 parameters"), (7.5, "iter 50/100  loss 2.5  val_loss 2.312")]
    (row,) = g.parse_ember(ember_lines, csv_path)
    assert row == {"iter": 50, "time_s": 7.5, "train_loss": 2.4, "val_loss": 2.31234}
    assert g.first_at_or_below(curve, 2.0)["iter"] == 100
    assert g.first_at_or_below(curve, 1.9)["iter"] == 100
    assert g.first_at_or_below(curve, 1.0) is None


def test_commands_carry_the_same_recipe(tmp_path: Path) -> None:
    cfg = g._settings(iters=2000, eval_interval=100, eval_iters=20, seed=0)
    nano = dict(a[2:].split("=", 1) for a in g.nanogpt_command("d", "o", cfg, 1)[5:])
    assert (nano["n_layer"], nano["n_head"], nano["n_embd"]) == ("4", "4", "128")
    assert (nano["block_size"], nano["batch_size"], nano["max_iters"]) == ("64", "12", "2000")
    assert (nano["learning_rate"], nano["min_lr"], nano["warmup_iters"]) == (
        "0.001",
        "0.0001",
        "100",
    )
    assert nano["lr_decay_iters"] == "2000" and nano["dropout"] == "0.0"
    ember = g.ember_command("t.txt", "o", cfg, 1)
    opts = dict(zip(ember[5::2], ember[6::2]))
    assert (opts["--layers"], opts["--heads"], opts["--width"]) == ("4", "4", "128")
    assert (opts["--block-size"], opts["--batch-size"], opts["--iters"]) == ("64", "12", "2000")
    assert (opts["--eval-interval"], opts["--eval-iters"], opts["--threads"]) == ("100", "20", "1")


def test_both_sides_run_and_report(tmp_path: Path, text_file: Path) -> None:
    checkout = tmp_path / "nanoGPT"
    checkout.mkdir()
    (checkout / "configurator.py").write_text("")
    (checkout / "train.py").write_text(FAKE_TRAIN)
    argv = ["--nanogpt", str(checkout), "--text", str(text_file), "--iters", "20"]
    argv += [
        "--eval-interval",
        "10",
        "--eval-iters",
        "2",
        "--target",
        "2.6",
        "1.0",
        "--threads",
        "1",
    ]
    result = g.main([*argv, "--markdown", str(tmp_path / "r.md")])
    nano, ember = result["sides"]["nanogpt"], result["sides"]["ember"]
    assert [r["iter"] for r in nano["curve"]] == [0, 10, 20]
    assert nano["final_val_loss"] == 2.1
    at_2_6, at_1 = nano["targets"]
    assert at_2_6["loss"] == 2.6 and at_2_6["iter"] == 10
    assert at_2_6["time_s"] == nano["curve"][1]["time_s"]
    assert at_1 == {"loss": 1.0}  # not reached
    assert [r["iter"] for r in ember["curve"]] == [10, 20]
    assert ember["final_val_loss"] == ember["curve"][-1]["val_loss"] > 0
    assert ("iter" in ember["targets"][0]) is (ember["best_val_loss"] <= 2.6)
    for side in (nano, ember):
        times = [r["time_s"] for r in side["curve"]]
        assert times == sorted(times) and 0 < times[-1] <= side["wall_s"]
    text = (tmp_path / "r.md").read_text()
    assert "| nanogpt |" in text and "| ember |" in text and "| 1.0 | not reached |" in text


def test_refuses_a_directory_that_is_not_nanogpt(tmp_path: Path, text_file: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a nanoGPT checkout"):
        g.compare(tmp_path, text_file, iters=10)
    with pytest.raises(ValueError, match="frameworks"):
        g.compare(tmp_path, text_file, frameworks=("jax",))
