"""``python -m ember`` runs the command line."""

from __future__ import annotations

import sys

from ember.cli import main

sys.exit(main())
