"""``python -m otp.bench``: the fault-injection benchmark (see :mod:`otp.bench`)."""

import sys

from . import main

sys.exit(main())
