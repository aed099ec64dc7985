"""`python -m bitswarm`: the same as the `bitswarm` command."""

from __future__ import annotations

import sys

from .cli.main import main

sys.exit(main())
