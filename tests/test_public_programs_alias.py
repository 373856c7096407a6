"""The torch -> ember aliasing of ``scripts/public_programs.py``, on a small inline program (the
public programs themselves are fetched from the network and are not part of the test run)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"

PROGRAM = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {scripts!r})
    from public_programs import alias_torch_to_ember
    ember = alias_torch_to_ember()
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset
    assert torch is ember and nn is ember.nn and F is ember.nn.functional
    assert sys.modules["torch.utils.data"] is ember.utils.data
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=4):
        opt.zero_grad(); loss = F.mse_loss(model(xb), yb); loss.backward(); opt.step()
    assert isinstance(loss, ember.Tensor)
    try:
        import torch.no_such_module
    except ModuleNotFoundError as e:
        print("missing:", e.name)
    """
)


def test_alias_maps_torch_and_submodules_to_ember() -> None:
    code = PROGRAM.format(scripts=str(SCRIPTS))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "missing: ember.no_such_module"
