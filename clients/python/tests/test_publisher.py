"""The publisher calls against a running stack: keys, retries, typed errors."""
from __future__ import annotations

import json
import pathlib
import uuid

import pytest
import requests

from fault_proxy import FaultProxy
from heliograph import ApiError, NetworkError, Publisher, RetryPolicy, Subscriber

EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "deploy" / "dev" / "examples"

# The resources document's own example resource value.
DATA_DICT = {
    "Symbol": "LGND",
    "Market": "U.S. Nasdaq",
    "Retracement channels": {"90": {"current_price": 66.51000213623047,
                                    "fibonacci_levels": [82.04000091552734, 75.13517967224121],
                                    "trend": "bullish"}},
}


class CountingSession(requests.Session):
    """A real session that counts what it sends (a spy, not a stand-in for the server)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def request(self, *args, **kwargs):  # type: ignore[override]
        self.sent += 1
        return super().request(*args, **kwargs)


def events_with(subscriber: Subscriber, stream_id: str, ticker: str) -> list:
    page = subscriber.read(stream_id, -1, 10_000)
    return [e for e in page.events if e["data"].get("ticker_symbol") == ticker]


def test_the_documents_trading_signal_is_numbered_and_readable(dev, publisher, subscriber, ticker):
    published = publisher.create_trading_signal(dev["algorithm_id"], ticker, 0.01, "market", "buy", "gtc", wait=10)
    assert published.status == "sequenced"
    assert published.stream_id == dev["streams"]["algorithm"]
    assert isinstance(published.event_number, int)
    page = subscriber.read(published.stream_id, published.event_number - 1, 1)
    assert page.events[0]["event_number"] == published.event_number
    assert page.events[0]["data"]["ticker_symbol"] == ticker


def test_the_documents_resource_upload(dev, publisher):
    published = publisher.upload_resource(dev["resource_id"], DATA_DICT)
    assert published.status in ("accepted", "sequenced")
    assert published.stream_id == dev["streams"]["resource"]
    assert published.ingest_id.startswith("ing_")


def test_a_refused_publish_raises_its_code_at_once_and_is_never_retried(dev):
    session = CountingSession()
    publisher = Publisher(dev["ingest_url"], dev["publisher"]["api_key"], dev["publisher"]["api_secret"],
                          session=session)
    with pytest.raises(ApiError) as refused:
        publisher.create_trading_signal(dev["algorithm_id"], "AAPL", 0.01, "limit", "buy", "gtc")
    assert refused.value.status == 422
    assert refused.value.code == "SIGNAL_ORDER_TYPE_UNSUPPORTED"
    assert any("order_type" in str(d.get("path")) for d in refused.value.details)
    assert session.sent == 1


def test_wrong_credentials_raise_401_unretried(dev):
    session = CountingSession()
    publisher = Publisher(dev["ingest_url"], dev["publisher"]["api_key"], "hgs_" + "x" * 43, session=session)
    with pytest.raises(ApiError) as refused:
        publisher.create_trading_signal(dev["algorithm_id"], "AAPL", 0.01, "market", "buy", "gtc")
    assert refused.value.status == 401
    assert session.sent == 1


def test_an_answer_lost_after_the_gateway_acted_is_retried_into_one_event(dev, subscriber, ticker):
    host, port = dev["ingest_url"].split("//")[1].split(":")
    proxy = FaultProxy((host, int(port)))
    try:
        publisher = Publisher(proxy.url, dev["publisher"]["api_key"], dev["publisher"]["api_secret"],
                              retry=RetryPolicy(base_delay=0.05))
        proxy.lose_next_answer()
        published = publisher.create_trading_signal(dev["algorithm_id"], ticker, 0.01, "market", "sell", "day",
                                                    wait=10)
        # The fault had its effect: the first answer never arrived, and the call went again.
        assert proxy.answers_lost == 1
        assert proxy.connections >= 2
        assert published.replayed
    finally:
        proxy.close()
    assert published.event_number is not None
    assert [e["event_number"] for e in events_with(subscriber, published.stream_id, ticker)] == [
        published.event_number
    ]


def test_one_key_for_another_body_is_refused(dev, publisher, ticker):
    key = f"py-{uuid.uuid4()}"
    publisher.create_trading_signal(dev["algorithm_id"], ticker, 0.01, "market", "buy", "gtc", idempotency_key=key)
    with pytest.raises(ApiError) as refused:
        publisher.create_trading_signal(dev["algorithm_id"], ticker, 0.02, "market", "buy", "gtc",
                                        idempotency_key=key)
    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED"


def test_no_gateway_listening_is_a_network_error_after_the_budget(dev):
    with socket_closed_port() as port:
        publisher = Publisher(f"http://127.0.0.1:{port}", "k", "s",
                              retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02))
        with pytest.raises(NetworkError) as failed:
            publisher.create_trading_signal(dev["algorithm_id"], "AAPL", 0.01, "market", "buy", "gtc")
    assert failed.value.attempts == 3


def test_an_idea_opened_updated_and_closed(dev, publisher, subscriber):
    idea_id = uuid.uuid4().hex
    steps = []
    for step in ("open", "update", "close"):
        body = json.loads((EXAMPLES / f"idea-{step}.json").read_text())
        body["id"] = idea_id
        call = {"open": publisher.open_idea, "update": publisher.update_idea, "close": publisher.close_idea}[step]
        steps.append(call(dev["idea_channel"], body, wait=10))
    numbers = [s.event_number for s in steps]
    assert all(s.status == "sequenced" for s in steps)
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    page = subscriber.read(dev["streams"]["ideas"], numbers[0] - 1, 10_000)
    mine = [e for e in page.events if e["data"].get("id") == idea_id]
    assert [e["event_number"] for e in mine] == numbers


class socket_closed_port:
    """A loopback port nothing listens on (bound, then closed)."""

    def __enter__(self) -> int:
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        return self.port

    def __exit__(self, *exc) -> None:
        return None
