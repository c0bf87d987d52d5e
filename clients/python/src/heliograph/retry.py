"""When to try a request again, and how long to wait before it."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional

#: Statuses that say "later": the request was not acted on (or, with an Idempotency-Key, a retry
#: replays the first answer), so sending it again is safe. Every other 4xx is the caller's mistake.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Jittered exponential backoff, bounded by attempts and by total time."""

    max_attempts: int = 8
    base_delay: float = 0.1
    max_delay: float = 5.0
    #: Seconds from the first attempt after which no new attempt starts.
    deadline: float = 30.0

    def delay(self, attempt: int, retry_after: Optional[float] = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1).

        A server's ``Retry-After`` is honoured as a floor; otherwise "full jitter": a random wait up
        to the exponential bound, so clients that failed together do not retry together.
        """
        bound = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        wait = random.uniform(0, bound)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """``Retry-After`` in seconds (the API sends delta-seconds), or None."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
