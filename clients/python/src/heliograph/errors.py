"""The client's exceptions: one for an answer the API gave, one for when no answer came."""
from __future__ import annotations

from typing import Any, List, Optional


class HeliographError(Exception):
    """Base of every error this client raises."""


class ApiError(HeliographError):
    """The API answered with an error body ``{"error": {"code", "message", "details"}}``.

    ``code`` is the stable error code (``SIGNAL_ORDER_TYPE_UNSUPPORTED``, ``POSITION_EVICTED``, ...,
    listed in docs/errors.md); ``details`` name the fields at fault.
    """

    def __init__(self, status: int, code: str, message: str, details: Optional[List[Any]] = None,
                 retry_after: Optional[float] = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.retry_after = retry_after


class NetworkError(HeliographError):
    """No usable answer within the retry budget: connection errors, timeouts, or answers the client
    retries (429, 503, ...) to the end; ``last`` is the last failure."""

    def __init__(self, message: str, attempts: int, last: Optional[BaseException] = None) -> None:
        super().__init__(f"{message} (after {attempts} attempt{'s' if attempts != 1 else ''})")
        self.attempts = attempts
        self.last = last
