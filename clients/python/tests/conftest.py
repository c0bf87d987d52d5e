"""The stack under test: a running Heliograph with its demo tenant, described by the dev.json that
`pnpm dev` writes (HELIOGRAPH_DEV_JSON names it; `test/clients/python-client.test.ts` starts a
stack of its own and runs these tests against it)."""
from __future__ import annotations

import json
import os
import uuid

import pytest

from heliograph import Publisher, Subscriber


@pytest.fixture(scope="session")
def dev() -> dict:
    path = os.environ.get("HELIOGRAPH_DEV_JSON")
    if not path:
        pytest.skip("HELIOGRAPH_DEV_JSON is not set: no stack to test against")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture()
def publisher(dev: dict) -> Publisher:
    return Publisher(dev["ingest_url"], dev["publisher"]["api_key"], dev["publisher"]["api_secret"])


@pytest.fixture()
def subscriber(dev: dict) -> Subscriber:
    return Subscriber(dev["stream_url"], dev["subscriber"]["token"])


@pytest.fixture()
def ticker() -> str:
    """A ticker no other test publishes, to find this test's events in the shared stream."""
    return "T" + uuid.uuid4().hex[:8].upper()
