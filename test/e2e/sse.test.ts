// The stream as Server-Sent Events, read by the clients people use: the `eventsource` npm package
// (the WHATWG EventSource, reconnecting with Last-Event-ID) and `curl -N`.
import { STREAM_HEAD_HEADER } from "@heliograph/contracts";
import { DOCUMENT_TRADING_SIGNAL_BODY, DOCUMENT_UPLOAD_RESOURCE_BODY } from "@heliograph/contracts/fixtures";
import { type DevConfig, seedDemoTenant } from "@heliograph/dev-stack/seed";
import { type Stack, startStack, waitFor } from "@heliograph/testkit";
import { EventSource } from "eventsource";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "./document-clients.js";
import { readmeBlocks, startRunning } from "./readme-examples.js";

let stack: Stack;
let dev: DevConfig;

beforeAll(async () => {
  stack = await startStack();
  dev = await seedDemoTenant(stack);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

const eventsUrl = (sid: string, query: string) => `${dev.stream_url}/api/v1/stream/${sid}/events${query}`;

/** Publishes with the resources document's bodies; answers the status. */
async function post(path: "create_trading_signal" | "upload_resource"): Promise<number> {
  const body = path === "create_trading_signal" ? DOCUMENT_TRADING_SIGNAL_BODY : DOCUMENT_UPLOAD_RESOURCE_BODY;
  const res = await fetch(`${dev.ingest_url}/api/v1/${path}`, {
    method: "POST",
    headers: {
      "API-KEY": dev.publisher.api_key,
      "API-SECRET": dev.publisher.api_secret,
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Publishes until stopped, one signal at a time; counts the accepted ones (each is numbered once). */
function keepPublishing(): { stop: () => Promise<number> } {
  let running = true;
  let accepted = 0;
  const loop = (async () => {
    while (running) if ((await post("create_trading_signal")) === 202) accepted++;
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return accepted;
    },
  };
}

describe("an EventSource follows the stream across a kill -9 of the stream gateway", () => {
  it("reconnects with Last-Event-ID and receives exactly 0..N-1, no gap and no duplicate", async () => {
    const sid = dev.streams.algorithm;
    const received: number[] = [];
    /** Messages whose id is not their data's event_number (none expected). */
    const mismatched: string[] = [];
    let opened = 0;
    const source = new EventSource(eventsUrl(sid, "?after=-1"), {
      fetch: (input, init) =>
        fetch(input, { ...init, headers: { ...init?.headers, authorization: `Bearer ${dev.subscriber.token}` } }),
    });
    source.addEventListener("open", () => opened++);
    source.addEventListener("TradingSignalCreated", (event) => {
      received.push(Number(event.lastEventId));
      if (JSON.parse(event.data).event_number !== Number(event.lastEventId)) mismatched.push(event.lastEventId);
    });
    try {
      const publisher = keepPublishing();
      await waitFor(() => received.length >= 20, { what: "events before the kill", timeoutMs: 20_000 });
      await stack.killHard("stream-gateway");
      const beforeRestart = received.length;
      await stack.restart("stream-gateway");
      await waitFor(() => opened >= 2 && received.length > beforeRestart + 20, {
        what: "the EventSource reconnected and following again",
        timeoutMs: 30_000,
      });
      const accepted = await publisher.stop();
      await waitFor(() => received.length >= accepted, { what: `all ${accepted} events`, timeoutMs: 30_000 });
      expect(received).toEqual(Array.from({ length: accepted }, (_, i) => i));
      expect(mismatched).toEqual([]);
      expect(source.readyState).toBe(EventSource.OPEN);
    } finally {
      source.close();
    }
  }, 120_000);
});

describe("curl -N", () => {
  it("reads events as they come, each an id, an event type and the event's JSON", async () => {
    const sid = dev.streams.resource;
    for (let i = 0; i < 3; i++) expect(await post("upload_resource")).toBe(202);
    const curl = await run("curl", [
      "-N",
      "-sS",
      "--max-time",
      "3",
      "-H",
      `Authorization: Bearer ${dev.subscriber.token}`,
      eventsUrl(sid, "?after=-1"),
    ]);
    // 28: curl stopped at --max-time, the stream being still open.
    expect(curl.code, curl.stderr).toBe(28);
    const messages = curl.stdout.split("\n\n").filter((block) => block.startsWith("id: "));
    expect(messages.length).toBeGreaterThanOrEqual(3);
    messages.forEach((block, i) => {
      const [id, event, data] = block.split("\n");
      expect(id).toBe(`id: ${i}`);
      expect(event).toBe("event: ResourcePublished");
      expect(JSON.parse((data as string).slice("data: ".length)).event_number).toBe(i);
    });
  }, 30_000);
});

/** One complete SSE message as curl printed it (an unfinished last one is not counted, as EventSource does). */
interface PrintedMessage {
  id: number;
  event: string | undefined;
  eventNumber: number;
}

/** The complete messages with an id in what `curl -N` printed: comments and the `retry:` field left out. */
function printedMessages(text: string): PrintedMessage[] {
  const blocks = text.split("\n\n");
  blocks.pop(); // not yet ended by a blank line
  return blocks.flatMap((block) => {
    const fields = new Map<string, string>();
    for (const line of block.split("\n")) {
      const colon = line.indexOf(": ");
      if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 2));
    }
    const id = fields.get("id");
    if (id === undefined) return [];
    const data = JSON.parse(fields.get("data") ?? "null") as { event_number?: number } | null;
    return [{ id: Number(id), event: fields.get("event"), eventNumber: data?.event_number ?? Number.NaN }];
  });
}

/** `curl -N` left running: the messages it has printed so far. */
function curlFollowing(url: string, headers: string[]) {
  const curl = startRunning("curl", ["-N", "-sS", "--max-time", "60", ...headers.flatMap((h) => ["-H", h]), url]);
  return { ...curl, messages: () => printedMessages(curl.stdout()) };
}

describe("curl -N across a kill -9 of the stream gateway", () => {
  it("run again with the Last-Event-ID it printed last, as a browser would, the two runs print every number once", async () => {
    const sid = dev.streams.algorithm;
    const auth = `Authorization: Bearer ${dev.subscriber.token}`;
    const latest = await fetch(`${dev.stream_url}/api/v1/stream/${sid}/`, {
      headers: { authorization: `Bearer ${dev.subscriber.token}` },
    });
    await latest.arrayBuffer();
    const head = Number(latest.headers.get(STREAM_HEAD_HEADER));
    expect(Number.isInteger(head), `${STREAM_HEAD_HEADER}: ${latest.headers.get(STREAM_HEAD_HEADER)}`).toBe(true);
    const url = eventsUrl(sid, `?after=${head}`);
    const publisher = keepPublishing();
    let accepted: number | undefined;
    const first = curlFollowing(url, [auth]);
    let second: ReturnType<typeof curlFollowing> | undefined;
    try {
      await waitFor(() => first.messages().length >= 20, { what: "events before the kill", timeoutMs: 20_000 });
      await stack.killHard("stream-gateway");
      // The connection went with the process: curl ends short of a complete response (18: the
      // chunked body was cut off; 56: the connection was reset).
      expect([18, 56], first.stderr()).toContain(await first.exited);
      const lastPrinted = first.messages().at(-1) as PrintedMessage;
      await stack.restart("stream-gateway");
      // The same URL: Last-Event-ID, when sent, is where the stream resumes, not ?after=.
      second = curlFollowing(url, [auth, `Last-Event-ID: ${lastPrinted.id}`]);
      const printedSecond = () => (second as ReturnType<typeof curlFollowing>).messages();
      await waitFor(() => printedSecond().length >= 20, { what: "events after the restart", timeoutMs: 20_000 });
      accepted = await publisher.stop();
      const last = head + (accepted as number);
      await waitFor(() => printedSecond().at(-1)?.id === last, { what: `event ${last}`, timeoutMs: 20_000 });
      const both = [...first.messages(), ...printedSecond()];
      expect(both.map((m) => m.id)).toEqual(Array.from({ length: accepted }, (_, i) => head + 1 + i));
      expect(both.filter((m) => m.eventNumber !== m.id || m.event !== "TradingSignalCreated")).toEqual([]);
      expect(printedSecond()[0]?.id).toBe(lastPrinted.id + 1);
    } finally {
      if (accepted === undefined) await publisher.stop();
      await first.stop();
      await second?.stop();
    }
  }, 60_000);
});

describe("the README's Server-Sent Events example", () => {
  it("prints what the README shows under it, run as written with a token and the stack's address", async () => {
    expect(await post("create_trading_signal")).toBe(202);
    const [block] = readmeBlocks("### Following a stream: Server-Sent Events", "sh");
    const lines = (block as string).split("\n");
    const command = lines.find((line) => line.startsWith("curl ")) as string;
    // The output shown, as comments under the command; `{…}` stands for the event's payload.
    const shown = lines
      .slice(lines.indexOf(command) + 1)
      .flatMap((line) => (line.startsWith("#") ? [line.replace(/^# ?/, "")] : []));
    expect(shown.length, "the README shows the output").toBeGreaterThan(3);
    expect(command, "the README follows the stack's demo algorithm").toContain(
      `/stream/${dev.streams.algorithm}/events`,
    );
    const asRun = command
      .replaceAll("YOUR_API_KEY", dev.subscriber.token)
      .replaceAll("http://127.0.0.1:8081", dev.stream_url);
    const curl = startRunning("sh", ["-c", `exec ${asRun}`]);
    try {
      await waitFor(() => curl.stdout().split("\n").length > shown.length, {
        what: `curl printing ${shown.length} lines`,
        timeoutMs: 10_000,
      });
      const printed = curl.stdout().split("\n").slice(0, shown.length);
      const escaped = (line: string) => line.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      shown.forEach((line, i) => {
        expect(printed[i]).toMatch(new RegExp(`^${escaped(line).replaceAll("\\{…\\}", "\\{.*\\}")}$`));
      });
    } finally {
      await curl.stop();
    }
  });
});
