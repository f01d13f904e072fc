"""``python -m otp run TARGET``: run a tree as an application (see :mod:`otp.app`)."""

import sys

from otp.app import main

sys.exit(main())
