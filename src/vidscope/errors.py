"""Exceptions that speak to the user: what was wrong, with which file, and what to do."""

from __future__ import annotations


class VidscopeError(Exception):
    """Base class for every error vidscope raises on purpose."""


class VideoError(VidscopeError):
    """A video (or image-folder video) could not be opened or decoded.

    Attributes:
        path: The offending file.
        reason: Short human-readable cause, without the path.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class StoreError(VidscopeError):
    """A feature store is missing, malformed, or does not match what was asked for."""


class WeightsError(VidscopeError):
    """Model weights are missing locally or do not fit the architecture."""


class InputError(VidscopeError, ValueError):
    """Bad user input: a file, a value or a flag that cannot be used as given.

    Also a ``ValueError``, so callers that caught ``ValueError`` before keep working.
    """


class ConfigError(InputError):
    """A setting (flag, config field, head or backbone option) is invalid or inconsistent."""


class RunError(VidscopeError):
    """A run directory is missing, partial, tampered with, or does not fit the data."""


class IncompatibleError(StoreError):
    """Features and a run (or two stores) were made with different backbones or settings."""


class VidscopeWarning(UserWarning):
    """Something the user should know that does not stop the work (e.g. features sampled
    differently from the run's training videos); the CLI prints these as one line."""
