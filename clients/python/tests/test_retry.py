"""Which answers a call sends again and how long it waits: the retry decisions alone, with no stack.
The answers come from a session that answers from a list (test_publisher.py has the real 503)."""
from __future__ import annotations

import json

import pytest
import requests

from heliograph import ApiError, NetworkError, RetryPolicy
from heliograph import transport


def answer(status: int, code: str, retry_after: str | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps({"error": {"code": code, "message": code, "details": []}}).encode()
    response.headers["Content-Type"] = "application/json"
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


class ListedAnswers:
    """A session whose requests get these answers in turn (then 202)."""

    def __init__(self, *answers: requests.Response) -> None:
        self.answers = list(answers)
        self.requests = 0

    def request(self, *args, **kwargs) -> requests.Response:
        self.requests += 1
        if self.answers:
            return self.answers.pop(0)
        accepted = requests.Response()
        accepted.status_code = 202
        accepted._content = b'{"status": "accepted"}'
        return accepted


@pytest.fixture()
def waits(monkeypatch) -> list:
    """The client's sleeps, recorded instead of slept."""
    slept: list = []
    monkeypatch.setattr(transport.time, "sleep", slept.append)
    return slept


def send(session: ListedAnswers, policy: RetryPolicy = RetryPolicy(base_delay=0.001, max_delay=0.001)):
    return transport.send(session, "POST", "http://heliograph.invalid/api/v1/create_trading_signal",
                          headers={}, json={}, timeout=1, policy=policy)


@pytest.mark.parametrize("status,code", [
    (429, "RATE_LIMITED"), (503, "INGEST_UNAVAILABLE"), (503, "SERVICE_UNAVAILABLE"), (503, "SHUTTING_DOWN"),
    (502, "NO_INSTANCE_ANSWERED"), (409, "IDEMPOTENCY_KEY_IN_PROGRESS"),
])
def test_retried_answers_are_sent_again(status: int, code: str, waits: list) -> None:
    session = ListedAnswers(answer(status, code))
    assert send(session).status_code == 202
    assert session.requests == 2


@pytest.mark.parametrize("status,code", [
    (400, "VALIDATION_FAILED"), (401, "AUTH_INVALID"), (409, "IDEA_CLOSED"), (422, "IDEMPOTENCY_KEY_REUSED"),
    (422, "RESOURCE_VALUE_INVALID"), (500, "INTERNAL"), (502, "HTTP_502"), (504, "HTTP_504"),
])
def test_other_answers_are_raised_after_one_request(status: int, code: str, waits: list) -> None:
    session = ListedAnswers(answer(status, code, retry_after="0"))
    with pytest.raises(ApiError) as raised:
        send(session)
    assert (raised.value.status, raised.value.code) == (status, code)
    assert session.requests == 1


def test_a_retry_after_longer_than_max_delay_is_waited_in_full(waits: list) -> None:
    # 12 s: beyond the 5 s backoff cap, within the 30 s deadline.
    session = ListedAnswers(answer(429, "RATE_LIMITED", retry_after="12"))
    assert send(session, RetryPolicy()).status_code == 202
    assert waits == [12.0]


def test_a_retry_after_past_the_deadline_ends_the_call_at_once_instead_of_retrying_early(waits: list) -> None:
    session = ListedAnswers(answer(503, "INGEST_UNAVAILABLE", retry_after="45"))
    with pytest.raises(NetworkError) as raised:
        send(session, RetryPolicy(deadline=30.0))
    assert isinstance(raised.value.last, ApiError) and raised.value.last.retry_after == 45.0
    assert (session.requests, waits) == (1, [])


def test_backoff_is_full_jitter_within_its_bounds() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=5.0)
    for attempt in range(1, 14):
        ceiling = min(5.0, 0.1 * 2 ** (attempt - 1))
        draws = [policy.backoff(attempt) for _ in range(2000)]
        assert 0 <= min(draws) and max(draws) <= ceiling
        # Spread over the range, not one fixed delay.
        assert min(draws) < ceiling * 0.1 and max(draws) > ceiling * 0.9


def test_follow_waits_out_a_retry_after_up_to_max_retry_after(monkeypatch) -> None:
    from heliograph import Subscriber, subscriber as subscriber_module

    slept: list = []
    monkeypatch.setattr(subscriber_module.time, "sleep", slept.append)
    follower = Subscriber("http://heliograph.invalid", "unused", retry=RetryPolicy(max_retry_after=60.0))
    follower._pause(1, 12.0, None)
    follower._pause(1, 3600.0, None)
    assert slept == [12.0, 60.0]
