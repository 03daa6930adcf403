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
