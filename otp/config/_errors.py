"""The one error a bad configuration raises, with every problem found in one pass."""

from __future__ import annotations

from collections.abc import Iterable

from otp import OtpError
from otp._taxonomy import DECLARATION, classify

__all__ = ["ConfigError"]


@classify(DECLARATION)
class ConfigError(OtpError, ValueError):
    """A configuration that cannot be loaded: every problem, each naming its key and layer.

    Attributes:
        problems: One line per problem, such as ``"db.pool_size: expected int, got 'ten'
            (from environment variable OTP_DB__POOL_SIZE)"``.

    Example::

        try:
            config = otp.config.load_config(Settings, file="app.toml")
        except otp.config.ConfigError as exc:
            for problem in exc.problems:
                print(problem)
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        if len(self.problems) == 1:
            message = f"invalid configuration: {self.problems[0]}"
        else:
            lines = "".join(f"\n  {problem}" for problem in self.problems)
            message = f"invalid configuration ({len(self.problems)} problems):{lines}"
        super().__init__(message)

    def __reduce__(self) -> tuple[type[ConfigError], tuple[tuple[str, ...]]]:
        return (type(self), (self.problems,))
