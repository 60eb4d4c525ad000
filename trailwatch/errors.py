"""Error types callers can catch; every message is one line: what, where, what is allowed."""


class TrailwatchError(Exception):
    """Base of every error trailwatch raises on bad input."""


class CatalogError(TrailwatchError):
    """A detection in the catalog (or a custom one from stack config) is invalid."""


class ConfigError(TrailwatchError):
    """A stack configuration value is invalid."""


#: The most config errors one message lists.
MAX_REPORTED = 10


class ConfigErrors(ConfigError):
    """Several bad config values; ``errors`` holds one line each, ``str()`` joins them with newlines."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        shown = self.errors[:MAX_REPORTED]
        if len(self.errors) > MAX_REPORTED:
            shown.append(f"... and {len(self.errors) - MAX_REPORTED} more config errors")
        super().__init__("\n".join(shown))


def error_lines(error: TrailwatchError) -> list[str]:
    """The one-line messages ``error`` carries: each of a :class:`ConfigErrors`, else its own."""
    return list(error.errors) if isinstance(error, ConfigErrors) else [str(error)]


def raise_config_errors(errors: list[str]) -> None:
    """Raise what ``errors`` (one line each) call for: nothing, one :class:`ConfigError`, or :class:`ConfigErrors`."""
    if len(errors) == 1:
        raise ConfigError(errors[0])
    if errors:
        raise ConfigErrors(errors)


class PatternError(TrailwatchError):
    """A CloudWatch Logs filter pattern is malformed.

    ``position`` is the 0-based character offset where parsing failed.
    """

    def __init__(self, message: str, position: int, pattern: str = ""):
        self.message = message
        self.position = position
        self.pattern = pattern
        super().__init__(f"{message} at position {position}")
