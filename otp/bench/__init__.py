"""``otp-bench``: a supervision tree under load and under fire, measured in one command.

``python -m otp.bench`` (or ``otp-bench``) runs a tree of gen_servers for 20 seconds while
client tasks call them at a steady rate and a seeded fault plan crashes, hangs, slows and
otherwise breaks them; then it prints what the tree made of it: availability, restart
latency, recovery time per fault kind, restarts and escalations per supervisor, peak memory,
and whether any task outlived the tree. ``--virtual-time`` runs it on Trio's ``MockClock``:
in a second or two, and with the same counts for the same seed. See ``otp-bench --help`` and
the "Fault injection" page of the docs.

The package needs nothing beyond ``otp``; ``pip install 'otp[bench]'`` adds rich (a table
and a progress bar on a terminal) and matplotlib (``--plot``).

The servers of the default tree are public, so that a tree file (``--tree``) can use them::

    [[children]]
    id = "svc"
    start = "otp.bench:Service"
    name = "svc"

Example::

    import otp.bench

    status = otp.bench.main(["--virtual-time", "--duration", "5", "--json", "run.json"])
"""

from ._cli import main
from ._default import ConfigServer, Service, Session, replicator

__all__ = ["ConfigServer", "Service", "Session", "main", "replicator"]
