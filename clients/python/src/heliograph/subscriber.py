"""Reading numbered streams: one read, the latest ten, and ``follow()`` across long polls."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Union

import requests

from .errors import ApiError
from .retry import RetryPolicy, follow_retries
from .transport import api_error, origin_of, send

HEAD_HEADER = "X-Heliograph-Head"
STATUS_HEADER = "X-Heliograph-Stream-Status"
EARLIEST_HEADER = "X-Heliograph-Earliest"


@dataclass(frozen=True)
class Page:
    """One read: the events after a position, and the stream's head and status when answered."""

    events: List[Dict[str, Any]]
    head: int
    status: str


@dataclass(frozen=True)
class StreamHalted:
    """Yielded by ``follow()`` when the stream is halted: nothing more is numbered until an operator
    resolves the halt; following goes on and the events come once it is resolved."""

    stream_id: str
    head: int


@dataclass(frozen=True)
class StreamResumed:
    """Yielded by ``follow()`` when a halted stream is live again."""

    stream_id: str
    head: int


@dataclass(frozen=True)
class PositionEvicted:
    """Yielded by ``follow(..., on_evicted="skip")`` when events after ``after`` are no longer
    retained: following continues from ``earliest`` (the events in between are gone)."""

    stream_id: str
    after: int
    earliest: int


class PositionEvictedError(ApiError):
    """410 POSITION_EVICTED: the position is older than the stream's retained history."""

    def __init__(self, error: ApiError, earliest: int) -> None:
        super().__init__(error.status, error.code, error.message, error.details, error.retry_after)
        self.earliest = earliest


Notice = Union[StreamHalted, StreamResumed, PositionEvicted]


class Subscriber:
    """A subscriber's client of the stream gateway (``Authorization: Bearer <token>``)."""

    def __init__(self, base_url: str, token: str, *, retry: RetryPolicy = RetryPolicy(), timeout: float = 10.0,
                 session: Optional[requests.Session] = None) -> None:
        self.origin = origin_of(base_url)
        self.retry = retry
        self.timeout = timeout
        self.session = session or requests.Session()
        self._auth = {"Authorization": f"Bearer {token}"}

    def latest(self, stream_id: str) -> List[Dict[str, Any]]:
        """The stream's latest ten events (the trade-ideas document's ``/{stream_id}/``)."""
        response = send(self.session, "GET", f"{self.origin}/api/v1/stream/{stream_id}/", headers=self._auth,
                        timeout=self.timeout, policy=self.retry)
        return response.json()

    def read(self, stream_id: str, after: int = -1, count: int = 100, long_poll: Optional[int] = None) -> Page:
        """Events after ``after`` (at most ``count``); with ``long_poll`` seconds, waits that long for
        one when there is none yet. One request, no retry: ``follow()`` is the resilient loop."""
        headers = dict(self._auth)
        if long_poll:
            headers["X-Long-Poll"] = str(long_poll)
        response = self.session.get(f"{self.origin}/api/v1/stream/{stream_id}/{after}/{count}", headers=headers,
                                    timeout=(self.timeout, self.timeout + (long_poll or 0)))
        if response.status_code >= 400:
            error = api_error(response)
            if error.code == "POSITION_EVICTED":
                raise PositionEvictedError(error, int(response.headers.get(EARLIEST_HEADER, after + 1)))
            raise error
        return Page(response.json(), int(response.headers.get(HEAD_HEADER, "-1")),
                    response.headers.get(STATUS_HEADER, "live"))

    def follow(self, stream_id: str, after: int = -1, *, batch_size: int = 100, long_poll: int = 10,
               stop: Optional[threading.Event] = None, on_evicted: str = "raise") -> Iterator[Union[Dict[str, Any], Notice]]:
        """Every event after ``after``, in order and once each, as it is numbered: a generator over
        long polls that resumes from the last number it yielded after any failure (connection lost,
        timeout, 429, 5xx: backoff, then the same position again). Yields ``StreamHalted`` /
        ``StreamResumed`` when the stream's status changes; a position older than the retained
        history raises ``PositionEvictedError``, or with ``on_evicted="skip"`` yields a
        ``PositionEvicted`` and continues from the earliest event. Other 4xx (a revoked token, a
        stream not entitled) are raised. Ends when ``stop`` is set (checked between polls)."""
        position = after
        status = "live"
        failures = 0
        while stop is None or not stop.is_set():
            try:
                page = self.read(stream_id, position, batch_size, long_poll)
            except PositionEvictedError as evicted:
                if on_evicted != "skip":
                    raise
                yield PositionEvicted(stream_id, position, evicted.earliest)
                position = evicted.earliest - 1
                continue
            except ApiError as error:
                if not follow_retries(error):
                    raise
                failures += 1
                self._pause(failures, error.retry_after, stop)
                continue
            except (requests.ConnectionError, requests.Timeout, ValueError):
                # ValueError: a body cut short by a connection lost mid-answer.
                failures += 1
                self._pause(failures, None, stop)
                continue
            failures = 0
            for event in page.events:
                number = event.get("event_number")
                # Only the next number: a page never skips, but a resumed read may overlap.
                if number != position + 1:
                    continue
                position = number
                yield event
            if page.status != status:
                status = page.status
                yield StreamHalted(stream_id, page.head) if status == "halted" else StreamResumed(stream_id, page.head)

    def _pause(self, failures: int, retry_after: Optional[float], stop: Optional[threading.Event]) -> None:
        bounded = None if retry_after is None else min(retry_after, self.retry.max_retry_after)
        wait = self.retry.delay(min(failures, 10), bounded)
        if stop is not None:
            stop.wait(wait)
        else:
            time.sleep(wait)
