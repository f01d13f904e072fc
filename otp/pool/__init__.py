"""Resource pools, like Erlang's poolboy: resources lent one user at a time, never leaked.

A :class:`Pool` keeps ``min_size`` resources (connections, clients, sessions) ready, makes
more on demand up to ``max_size``, closes the extra ones once idle, health-checks them on
checkout or periodically, and retires a resource whose user crashed. Each resource is owned
by a worker child of the pool's own dynamic supervisor. It uses only the public ``otp`` API.

Example::

    pool = otp.pool.Pool("db", connect, close=disconnect, max_size=20)
    async with otp.open_supervisor([pool.child_spec()]):
        async with pool.acquire() as conn:
            await conn.execute("select 1")
"""

from ._errors import PoolClosed as PoolClosed
from ._errors import PoolDeclarationError as PoolDeclarationError
from ._errors import PoolError as PoolError
from ._errors import PoolExhausted as PoolExhausted
from ._errors import ResourceFailed as ResourceFailed
from ._pool import Pool as Pool
from ._pool import PoolStatistics as PoolStatistics

__all__ = [
    "Pool",
    "PoolClosed",
    "PoolDeclarationError",
    "PoolError",
    "PoolExhausted",
    "PoolStatistics",
    "ResourceFailed",
]
