"""follow() and reads against a running stack, with connections cut under it."""
from __future__ import annotations

import threading
import time

import pytest

from fault_proxy import FaultProxy
from heliograph import ApiError, RetryPolicy, StreamHalted, Subscriber


def test_latest_is_at_most_ten_events_in_order(dev, publisher, subscriber, ticker):
    for _ in range(12):
        publisher.create_trading_signal(dev["algorithm_id"], ticker, 0.01, "market", "buy", "gtc", wait=10)
    latest = subscriber.latest(dev["streams"]["algorithm"])
    numbers = [e["event_number"] for e in latest]
    assert len(latest) == 10
    assert numbers == list(range(numbers[0], numbers[0] + 10))


def test_follow_yields_every_number_once_in_order_through_cut_connections(dev, publisher, ticker):
    stream_id = dev["streams"]["algorithm"]
    host, port = dev["stream_url"].split("//")[1].split(":")
    proxy = FaultProxy((host, int(port)))
    subscriber = Subscriber(proxy.url, dev["subscriber"]["token"], retry=RetryPolicy(base_delay=0.05, max_delay=0.2))
    start = subscriber.read(stream_id, -1, 1).head
    total = 40
    stop = threading.Event()
    seen: list = []

    def publish() -> None:
        for _ in range(total):
            publisher.create_trading_signal(dev["algorithm_id"], ticker, 0.01, "market", "buy", "gtc")
            time.sleep(0.02)

    def cut_repeatedly() -> None:
        while not stop.is_set():
            time.sleep(0.15)
            cuts.append(proxy.cut())

    cuts: list = []
    publishing = threading.Thread(target=publish)
    cutting = threading.Thread(target=cut_repeatedly)
    publishing.start()
    cutting.start()
    deadline = time.monotonic() + 60
    try:
        for item in subscriber.follow(stream_id, after=start, batch_size=7, long_poll=1, stop=stop):
            assert not isinstance(item, StreamHalted)
            seen.append(item)
            if sum(1 for e in seen if e["data"].get("ticker_symbol") == ticker) == total:
                break
            assert time.monotonic() < deadline, f"follow got {len(seen)} events in 60 s"
    finally:
        stop.set()
        publishing.join()
        cutting.join()
        proxy.close()
    numbers = [e["event_number"] for e in seen]
    assert numbers == list(range(start + 1, start + 1 + len(numbers)))
    # The fault had its effect: held polls were cut while following.
    assert sum(cuts) > 0


def test_a_stream_not_entitled_is_raised_not_retried(dev):
    subscriber = Subscriber(dev["stream_url"], dev["subscriber"]["token"])
    with pytest.raises(ApiError) as refused:
        next(iter(subscriber.follow("algorithm-424242", long_poll=1)))
    assert refused.value.status in (403, 404)


def test_stop_ends_a_follow_that_waits(dev, subscriber):
    stop = threading.Event()
    head = subscriber.read(dev["streams"]["resource"], -1, 1).head
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    assert list(subscriber.follow(dev["streams"]["resource"], after=head + 1000, long_poll=1, stop=stop)) == []
    assert time.monotonic() - started < 5
