"""The README's examples, run as written against the stack: only the documented addresses
(127.0.0.1:8080 and :8081, pnpm dev's) become the stack's, and the environment variables they
read are set from its dev.json."""
from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import time

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
PACKAGE_DIR = README.parent


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def for_stack(code: str, dev: dict) -> str:
    return code.replace("http://127.0.0.1:8080", dev["ingest_url"]).replace("http://127.0.0.1:8081", dev["stream_url"])


def environment(dev: dict) -> dict:
    return {
        **os.environ,
        "API_KEY": dev["publisher"]["api_key"],
        "API_SECRET": dev["publisher"]["api_secret"],
        "TOKEN": dev["subscriber"]["token"],
        "PYTHONPATH": str(PACKAGE_DIR / "src"),
        "PYTHONUNBUFFERED": "1",
    }


def test_publishing_examples_run_as_written(dev: dict) -> None:
    blocks = python_blocks()
    publishing = [b for b in blocks if "subscriber.follow" not in b]
    assert len(publishing) == 4, "the README's four publishing examples (document code, client, twice)"
    script = "\n".join(for_stack(b, dev) for b in publishing)
    done = subprocess.run([sys.executable, "-c", script], env=environment(dev), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # The client's resource upload, then the signal's number (waited for).
    assert re.fullmatch(r"accepted ing_\w+ resource-1", lines[0]), done.stdout
    assert re.fullmatch(r"\d+", lines[1]), done.stdout


def test_follow_example_prints_each_event_as_written(dev: dict, publisher) -> None:
    (follow,) = [b for b in python_blocks() if "subscriber.follow" in b]
    published = publisher.create_trading_signal(1, "README", 0.01, "market", "sell", "gtc", wait=5)
    # It follows for ever, as a subscriber does: read its output until the event shows, then stop it.
    with subprocess.Popen(
        [sys.executable, "-c", for_stack(follow, dev)], env=environment(dev), stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            expected = f"{published.event_number} README sell"
            deadline = time.monotonic() + 30
            seen = []
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                seen.append(line.rstrip("\n"))
                if seen[-1] == expected:
                    break
            assert expected in seen, seen[-5:]
            # From the start, in order: the first lines are events 0, 1, 2, …
            numbers = [int(s.split()[0]) for s in seen]
            assert numbers == list(range(len(numbers)))
        finally:
            proc.kill()
