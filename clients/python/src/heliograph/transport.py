"""One HTTP exchange with retries: the publisher and the subscriber both send through here."""
from __future__ import annotations

import time
from typing import Any, Dict, Optional, Tuple, Union

import requests

from .errors import ApiError, NetworkError
from .retry import RetryPolicy, is_retried, parse_retry_after

Timeout = Union[float, Tuple[float, float]]


def origin_of(base_url: str) -> str:
    """The gateway's origin: ``http://host:port``, also when given with the document's ``/api/v1``."""
    url = base_url.rstrip("/")
    return url[: -len("/api/v1")] if url.endswith("/api/v1") else url


def api_error(response: requests.Response) -> ApiError:
    """The error body as an ApiError; a body of another shape (a proxy's page) keeps its status."""
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    try:
        error = response.json()["error"]
        return ApiError(response.status_code, str(error["code"]), str(error.get("message", "")),
                        list(error.get("details") or []), retry_after)
    except (ValueError, KeyError, TypeError):
        return ApiError(response.status_code, f"HTTP_{response.status_code}", response.text[:500], [], retry_after)


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    headers: Dict[str, str],
    json: Any = None,
    timeout: Timeout,
    policy: RetryPolicy,
) -> requests.Response:
    """Sends until an answer that is not "later": a 2xx is returned, any answer ``is_retried``
    does not list raised as ApiError at once; connection errors, timeouts and the answers it lists
    are retried with the policy's backoff, waiting out a Retry-After in full (the same headers every
    time: an Idempotency-Key makes a retry safe), and NetworkError says the budget ran out."""
    started = time.monotonic()
    attempt = 0
    last: Optional[BaseException] = None
    while True:
        attempt += 1
        retry_after: Optional[float] = None
        try:
            response = session.request(method, url, headers=headers, json=json, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout) as err:
            last = err
        else:
            if response.status_code < 400:
                return response
            error = api_error(response)
            if not is_retried(error):
                raise error
            last, retry_after = error, error.retry_after
        wait = policy.delay(attempt, retry_after)
        if attempt >= policy.max_attempts or time.monotonic() - started + wait > policy.deadline:
            raise NetworkError(f"{method} {url}: no answer but 'later' ({last})", attempt, last)
        time.sleep(wait)
