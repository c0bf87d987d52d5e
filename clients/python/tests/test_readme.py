"""The README's examples, run as written against the stack, each block as its own script: only the
documented addresses (127.0.0.1:8080 and :8081, pnpm dev's) become the stack's, and the environment
variables they read are set from its dev.json. The resources document's examples in it are checked
against the document itself."""
from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import textwrap
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


DOCUMENT = PACKAGE_DIR.parent.parent / "docs" / "source-documents" / "signal-marketplace-publisher-api.txt"
#: The two changes the README says it makes to the document's code (its "two changes").
DOCUMENT_BASE_URL = "BASE_URL = 'https://justfor.fund/api/v1'"
README_BASE_URL = "BASE_URL = 'http://127.0.0.1:8080/api/v1'"


def document_examples() -> list[str]:
    """The document's Python examples: the indented lines after each "Python example:", out of the
    page's indent, trailing spaces dropped."""
    lines = DOCUMENT.read_text(encoding="utf-8").splitlines()
    examples = []
    for i, line in enumerate(lines):
        if line.strip() != "Python example:":
            continue
        code = []
        for following in lines[i + 1:]:
            if following.strip() and not following[0].isspace():
                break
            code.append(following.rstrip())
        examples.append(textwrap.dedent("\n".join(code)).strip("\n"))
    return examples


def as_in_readme(example: str) -> str:
    example = example.replace(DOCUMENT_BASE_URL, README_BASE_URL)
    return "\n".join('    """' if line == '    ""' else line for line in example.splitlines())


def readme_document_blocks() -> list[str]:
    return [b for b in python_blocks() if "requests.post(" in b]


def readme_client_blocks() -> list[str]:
    return [b for b in python_blocks() if "Publisher(" in b]


def run_block(code: str, dev: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", for_stack(code, dev)], env=environment(dev), capture_output=True,
                          text=True, timeout=60)


def test_the_document_examples_are_the_documents_own_but_for_the_two_changes_it_names() -> None:
    examples = document_examples()
    assert len(examples) == 2, "the resources document's two Python examples"
    shown = [b.rstrip("\n") for b in readme_document_blocks()]
    assert shown == [as_in_readme(e) for e in examples]


def next_event(subscriber, stream_id: str, after: int) -> dict:
    page = subscriber.read(stream_id, after, 1, long_poll=10)
    assert page.events, f"no event after {after} on {stream_id} within 10 s"
    return page.events[0]


def test_the_document_examples_each_publish_one_event(dev: dict, subscriber) -> None:
    upload, signal = readme_document_blocks()
    for code, stream_id in ((upload, "resource-1"), (signal, "algorithm-1")):
        head = subscriber.read(stream_id, -1, 1).head
        done = run_block(code, dev)
        assert done.returncode == 0, done.stderr
        event = next_event(subscriber, stream_id, head)
        if stream_id == "resource-1":
            assert event["data"]["resource_dict"]["Retracement channels"]["90"]["fibonacci_levels"][-1] == 52.782283782958984
        else:
            assert event["data"]["ticker_symbol"] == "AAPL"


def test_the_client_examples_each_publish_one_event_and_print_its_answer(dev: dict, subscriber) -> None:
    upload, signal = readme_client_blocks()
    head = subscriber.read("resource-1", -1, 1).head
    done = run_block(upload, dev)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"accepted ing_\w+ resource-1\n", done.stdout), done.stdout
    event = next_event(subscriber, "resource-1", head)
    assert len(event["data"]["resource_dict"]["Retracement channels"]["90"]["fibonacci_levels"]) == 7

    done = run_block(signal, dev)
    assert done.returncode == 0, done.stderr
    # The signal's number, waited for: the event it names is the client's AAPL buy.
    number = int(done.stdout.strip())
    (event,) = subscriber.read("algorithm-1", number - 1, 1).events
    assert (event["event_number"], event["data"]["ticker_symbol"]) == (number, "AAPL")


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
