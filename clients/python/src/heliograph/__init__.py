"""Heliograph's Python client: publish signals, resources and trade ideas; follow numbered streams."""
from .errors import ApiError, HeliographError, NetworkError
from .publisher import Published, Publisher
from .retry import RetryPolicy
from .subscriber import (
    Page,
    PositionEvicted,
    PositionEvictedError,
    StreamHalted,
    StreamResumed,
    Subscriber,
)

__all__ = [
    "ApiError",
    "HeliographError",
    "NetworkError",
    "Page",
    "PositionEvicted",
    "PositionEvictedError",
    "Published",
    "Publisher",
    "RetryPolicy",
    "StreamHalted",
    "StreamResumed",
    "Subscriber",
]
