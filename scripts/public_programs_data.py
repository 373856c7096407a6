"""Tiny synthetic data, in the file formats the public programs read, for
``scripts/public_programs.py``. Each writer takes the program's working directory; all draws
come from fixed NumPy seeds, so the PyTorch and the ember run read identical files."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

_WORDS = "the a cat dog sat on mat ran far and then slept under big red tree".split()


def _text(n_words: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    words = rng.choice(_WORDS, size=n_words)
    lines = [" ".join(words[i : i + 12]) for i in range(0, n_words, 12)]
    return "\n".join(lines) + "\n"


def nanogpt(cwd: Path) -> None:
    """data/shakespeare_char/{train,val}.bin (uint16 ids) and meta.pkl, as prepare.py writes."""
    text = _text(600, 0)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = np.array([stoi[c] for c in text], dtype=np.uint16)
    out = cwd / "data" / "shakespeare_char"
    out.mkdir(parents=True, exist_ok=True)
    split = int(0.9 * len(ids))
    ids[:split].tofile(out / "train.bin")
    ids[split:].tofile(out / "val.bin")
    meta = {"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi}
    with open(out / "meta.pkl", "wb") as f:
        pickle.dump(meta, f)


def chargpt(cwd: Path) -> None:
    """input.txt: plain text, holding every character of the prompt chargpt samples from."""
    (cwd / "input.txt").write_text("O God, O God!\n" + _text(400, 1))


def makemore(cwd: Path) -> None:
    """tiny_names.txt: one made-up name per line."""
    rng = np.random.default_rng(2)
    letters = list("abcdefghijklmnopqrstuvwxyz")
    names = ["".join(rng.choice(letters, size=int(rng.integers(3, 8)))) for _ in range(40)]
    (cwd / "tiny_names.txt").write_text("\n".join(names) + "\n")


def word_lm(cwd: Path) -> None:
    """tiny/{train,valid,test}.txt: word-level text."""
    out = cwd / "tiny"
    out.mkdir(parents=True, exist_ok=True)
    for seed, (name, n) in enumerate([("train.txt", 240), ("valid.txt", 96), ("test.txt", 96)]):
        (out / name).write_text(_text(n, 10 + seed))


def sine_waves(cwd: Path) -> None:
    """traindata.pt: a (6, 40) float64 array of shifted sine waves, saved with PyTorch's
    ``torch.save`` as generate_sine_wave.py does (fewer and shorter waves)."""
    import torch

    rng = np.random.default_rng(3)
    x = np.arange(40)[None, :] + rng.integers(-20, 20, size=(6, 1))
    data = np.sin(x / 1.0 / 20).astype("float64")
    with open(cwd / "traindata.pt", "wb") as f:
        torch.save(data, f)


def _jpegs(folder: Path, n: int, size: int, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        arr = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / f"img{i}.jpg")


def bsds300(cwd: Path) -> None:
    """dataset/BSDS300/images/{train,test}/*.jpg: the folder data.py would download."""
    root = cwd / "dataset" / "BSDS300" / "images"
    _jpegs(root / "train", 2, 258, 4)
    _jpegs(root / "test", 2, 258, 5)


def style_images(cwd: Path) -> None:
    """tiny_images/class0/*.jpg (an ImageFolder of content images) and tiny_style.jpg."""
    _jpegs(cwd / "tiny_images" / "class0", 2, 40, 6)
    arr = np.random.default_rng(7).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    Image.fromarray(arr).save(cwd / "tiny_style.jpg")


WRITERS: dict[str, Callable[[Path], None]] = {
    "nanogpt": nanogpt,
    "chargpt": chargpt,
    "makemore": makemore,
    "word_lm": word_lm,
    "sine_waves": sine_waves,
    "bsds300": bsds300,
    "style_images": style_images,
}
