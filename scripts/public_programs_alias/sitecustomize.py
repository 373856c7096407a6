"""Put on ``PYTHONPATH`` for the ember runs of ``scripts/public_programs.py``: every Python
process a program starts (the processes ``torch.multiprocessing`` spawns, too) imports
``torch`` as ember, as the program's own process does."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # scripts/

from public_programs import alias_torch_to_ember  # noqa: E402

alias_torch_to_ember()
