"""Publishing: trading signals, resources and trade ideas, each call safe to retry."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

import requests

from .retry import RetryPolicy
from .transport import Timeout, origin_of, send


@dataclass(frozen=True)
class Published:
    """The gateway's answer to a publish: ``accepted`` (202, numbered soon) or ``sequenced``
    (201 after ``wait``, with its event number)."""

    status: str
    ingest_id: str
    stream_id: str
    event_number: Optional[int]
    #: True when this answer is the stored first answer to the same Idempotency-Key.
    replayed: bool
    body: Dict[str, Any]


class Publisher:
    """A publisher's client of the ingest gateway (``API-KEY`` / ``API-SECRET``).

    Every call sends an ``Idempotency-Key`` (a new UUID per call unless given) and keeps it across
    that call's retries, so a retry after a lost answer makes no second event.
    """

    def __init__(self, base_url: str, api_key: str, api_secret: str, *, retry: RetryPolicy = RetryPolicy(),
                 timeout: float = 10.0, session: Optional[requests.Session] = None) -> None:
        self.origin = origin_of(base_url)
        self.retry = retry
        self.timeout = timeout
        self.session = session or requests.Session()
        self._auth = {"API-KEY": api_key, "API-SECRET": api_secret}

    def create_trading_signal(self, algorithm_id: int, ticker_symbol: str, portfolio_ratio_investment: float,
                              order_type: str, side: str, time_in_force: str, *,
                              timestamp: Optional[str] = None, idempotency_key: Optional[str] = None,
                              wait: Optional[float] = None) -> Published:
        body: Dict[str, Any] = {
            "algorithm_id": algorithm_id,
            "ticker_symbol": ticker_symbol,
            "order_type": order_type,
            "portfolio_ratio_investment": portfolio_ratio_investment,
            "side": side,
            "time_in_force": time_in_force,
        }
        if timestamp is not None:
            body["timestamp"] = timestamp
        return self._publish("/api/v1/create_trading_signal", body, idempotency_key, wait)

    def upload_resource(self, resource_id: int, resource_dict: Mapping[str, Any], *,
                        idempotency_key: Optional[str] = None, wait: Optional[float] = None) -> Published:
        body = {"resource_id": resource_id, "resource_dict": dict(resource_dict)}
        return self._publish("/api/v1/upload_resource", body, idempotency_key, wait)

    def open_idea(self, channel: str, idea: Mapping[str, Any], **options: Any) -> Published:
        """The trade-ideas document's ``IdeaOpened`` body (``{"timestamp", "idea": {...}}``)."""
        return self._publish(f"/api/v1/ideas/{channel}/open", dict(idea), **options)

    def update_idea(self, channel: str, idea: Mapping[str, Any], **options: Any) -> Published:
        return self._publish(f"/api/v1/ideas/{channel}/update", dict(idea), **options)

    def close_idea(self, channel: str, idea: Mapping[str, Any], **options: Any) -> Published:
        return self._publish(f"/api/v1/ideas/{channel}/close", dict(idea), **options)

    def publish_status(self, ingest_id: str) -> Dict[str, Any]:
        """Where a publish is: accepted, held, sequenced (with its number) or parked."""
        response = send(self.session, "GET", f"{self.origin}/api/v1/publishes/{ingest_id}", headers=self._auth,
                        timeout=self.timeout, policy=self.retry)
        return response.json()

    def _publish(self, path: str, body: Dict[str, Any], idempotency_key: Optional[str] = None,
                 wait: Optional[float] = None) -> Published:
        headers = {**self._auth, "Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        timeout: Timeout = self.timeout
        if wait is not None:
            headers["X-Heliograph-Wait"] = str(wait)
            timeout = self.timeout + wait
        response = send(self.session, "POST", self.origin + path, headers=headers, json=body, timeout=timeout,
                        policy=self.retry)
        answer = response.json()
        return Published(
            status=answer["status"],
            ingest_id=answer["ingest_id"],
            stream_id=answer["stream_id"],
            event_number=answer.get("event_number"),
            replayed=response.headers.get("Idempotent-Replayed") == "true",
            body=answer,
        )
