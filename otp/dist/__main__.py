"""``python -m otp.dist``: see :mod:`otp.dist._cli` for the commands."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
