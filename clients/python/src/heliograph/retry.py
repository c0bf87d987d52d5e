"""When to try a request again, and how long to wait before it."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional

from .errors import ApiError

#: The answers a call (a publish, ``latest``) sends again, and no others; the same list as the
#: TypeScript SDK's (``RETRIED_STATUSES`` and ``RETRIED_CODES`` in packages/client/src/retry.ts):
#: 429 RATE_LIMITED and every 503 (INGEST_UNAVAILABLE, SERVICE_UNAVAILABLE, SHUTTING_DOWN), which
#: come with Retry-After; 502 NO_INSTANCE_ANSWERED, the ``pnpm dev`` front's word for "every gateway
#: refused the connection" (a network error, relayed); and 409 IDEMPOTENCY_KEY_IN_PROGRESS, the one
#: 4xx retried, on purpose: it is this call's own earlier attempt (one the client stopped waiting
#: for) still under way, and the retry, under the same key, gets that attempt's answer.
#: 500 (a fault a retry would meet again), another 502, 504 and every other 4xx are raised at once.
RETRIED_STATUSES = frozenset({429, 503})
RETRIED_CODES = frozenset({"IDEMPOTENCY_KEY_IN_PROGRESS", "NO_INSTANCE_ANSWERED"})


def is_retried(error: ApiError) -> bool:
    """Whether a call sends its request again after this answer."""
    return error.status in RETRIED_STATUSES or error.code in RETRIED_CODES


def follow_retries(error: ApiError) -> bool:
    """``follow()`` is a read that must outlast any outage: it also waits out 500, 502 and 504."""
    return error.status == 429 or error.status >= 500 or error.code in RETRIED_CODES


@dataclass(frozen=True)
class RetryPolicy:
    """Jittered exponential backoff, bounded by attempts and by total time."""

    max_attempts: int = 8
    base_delay: float = 0.1
    #: Largest backoff in seconds. It bounds the client's own backoff only, never a Retry-After.
    max_delay: float = 5.0
    #: Seconds from the first attempt after which no new attempt starts. A Retry-After that would
    #: end past it is not cut short: the call raises at once instead.
    deadline: float = 30.0
    #: Largest Retry-After ``follow()`` waits, in seconds (it has no deadline): a longer one, which
    #: Heliograph never sends, is waited as this long.
    max_retry_after: float = 60.0

    def backoff(self, attempt: int) -> float:
        """"Full jitter": a random wait up to ``base_delay × 2^(attempt-1)``, at most ``max_delay``, so
        clients that failed together do not retry together (``attempt`` counts from 1)."""
        return random.uniform(0, min(self.max_delay, self.base_delay * (2 ** (attempt - 1))))

    def delay(self, attempt: int, retry_after: Optional[float] = None) -> float:
        """Seconds to wait before attempt ``attempt + 1``: the backoff, or the server's whole
        ``Retry-After`` when that is longer."""
        wait = self.backoff(attempt)
        return wait if retry_after is None else max(wait, retry_after)


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """``Retry-After`` in seconds (the API sends delta-seconds), or None."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
