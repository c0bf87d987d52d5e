// Webhooks end to end: the dispatcher as its own process beside the stack, real HTTP receivers
// that verify every delivery with the `standardwebhooks` package, as a subscriber's would.
import { mkdirSync, writeFileSync } from "node:fs";
import { ApiError, adminClient } from "@heliograph/admin-client";
import type { WebhookAttempt, WebhookEndpointCreated, WebhookEndpointDetail } from "@heliograph/contracts";
import { DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { type DevConfig, seedDemoTenant } from "@heliograph/dev-stack/seed";
import { freePort, type Stack, startStack, tempDataDir, waitFor } from "@heliograph/testkit";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readmeBlocks, startRunning } from "./readme-examples.js";
import { type WebhookDelivery, WebhookReceiver } from "./webhook-receiver.js";

/** Retries give up on an event after this long (a receiver failing for a second recovers well within). */
const RETRY_LIMIT_MS = 4_000;

let stack: Stack;
let dev: DevConfig;
let admin: ReturnType<typeof adminClient>;
const receivers: WebhookReceiver[] = [];

beforeAll(async () => {
  stack = await startStack({
    // Two dispatchers share the endpoints: every test below also shows nothing is delivered twice.
    services: { "ingest-gateway": 1, sequencer: 1, "stream-gateway": 1, "webhook-dispatcher": 2 },
    env: {
      WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
      WEBHOOK_LEASE_MS: "1500",
      WEBHOOK_SCAN_MS: "200",
      WEBHOOK_RETRY_BASE_MS: "50",
      WEBHOOK_RETRY_MAX_DELAY_MS: "400",
      WEBHOOK_RETRY_LIMIT_MS: String(RETRY_LIMIT_MS),
      WEBHOOK_TIMEOUT_MS: "20000",
    },
  });
  dev = await seedDemoTenant(stack);
  admin = adminClient(stack.admin);
}, 90_000);

afterAll(async () => {
  for (const r of receivers) await r.close();
  await stack?.stop();
});

/** A receiver closed when the file ends. */
async function startReceiver(): Promise<WebhookReceiver> {
  const receiver = await WebhookReceiver.start();
  receivers.push(receiver);
  return receiver;
}

async function register(receiver: WebhookReceiver): Promise<WebhookEndpointCreated> {
  const created = await admin<WebhookEndpointCreated>("POST", "/webhooks", {
    subscriber_id: dev.subscriber.id,
    stream_id: dev.streams.algorithm,
    url: receiver.url,
  });
  receiver.secret = created.secret;
  return created;
}

/** Publishes `count` trading signals to the algorithm stream; answers their event numbers (201, waited for). */
async function publish(count: number): Promise<number[]> {
  const numbers: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${dev.ingest_url}/api/v1/create_trading_signal`, {
      method: "POST",
      headers: {
        "API-KEY": dev.publisher.api_key,
        "API-SECRET": dev.publisher.api_secret,
        "content-type": "application/json",
        "X-Heliograph-Wait": "10",
      },
      body: JSON.stringify(DOCUMENT_TRADING_SIGNAL_BODY),
    });
    const answer = (await res.json()) as { event_number?: number };
    expect(res.status).toBe(201);
    numbers.push(answer.event_number as number);
  }
  return numbers;
}

const idsOf = (numbers: number[]) => numbers.map((n) => `${dev.streams.algorithm}:${n}`);

/** How many endpoints dispatcher `index` delivers to now (its heliograph_webhook_endpoints_held). */
async function held(index: number): Promise<number> {
  const text = await (await fetch(`${stack.instances["webhook-dispatcher"][index]!.url}/metrics`)).text();
  return Number(/^heliograph_webhook_endpoints_held\{[^}]*\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

describe("webhook delivery", () => {
  it("delivers every event once, in number order, signed so standardwebhooks verifies it", async () => {
    const receiver = await startReceiver();
    const endpoint = await register(receiver);
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const numbers = await publish(20);
    await waitFor(() => receiver.deliveries.length >= numbers.length, { what: "20 deliveries", timeoutMs: 20_000 });
    expect(receiver.ids()).toEqual(idsOf(numbers));
    expect(receiver.deliveries.every((d) => d.verified)).toBe(true);
    expect(receiver.deliveries.map((d) => d.headers["content-type"])).toEqual(numbers.map(() => "application/json"));
    // The body is the event as long polls serve it.
    const read = await fetch(`${dev.stream_url}/api/v1/stream/${dev.streams.algorithm}/${numbers[0]! - 1}/20`, {
      headers: { authorization: `Bearer ${dev.subscriber.token}` },
    });
    const polled = (await read.json()) as unknown[];
    expect(receiver.deliveries.map((d) => JSON.parse(d.body))).toEqual(polled.slice(0, numbers.length));
    const detail = await admin<WebhookEndpointDetail>("GET", `/webhooks/${endpoint.id}`);
    await waitFor(
      async () => (await admin<WebhookEndpointDetail>("GET", `/webhooks/${endpoint.id}`)).position === numbers.at(-1),
      { what: "the position at the last event" },
    );
    expect(detail).not.toHaveProperty("secret");
  }, 60_000);

  it("a signature made with another secret, or over another body, fails verification", async () => {
    const receiver = await startReceiver();
    await register(receiver);
    await publish(1);
    await waitFor(() => receiver.deliveries.length >= 1, { what: "one delivery" });
    const [delivery] = receiver.deliveries as [WebhookDelivery];
    const headers = delivery.headers as Record<string, string>;
    expect(() => new Webhook(receiver.secret).verify(delivery.body, headers)).not.toThrow();
    const otherSecret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
    expect(() => new Webhook(otherSecret).verify(delivery.body, headers)).toThrow();
    expect(() => new Webhook(receiver.secret).verify(delivery.body.replace("}", ',"x":1}'), headers)).toThrow();
  }, 30_000);

  it("retries a receiver that fails with 500 for a while, then delivers everything in order", async () => {
    const receiver = await startReceiver();
    let failures = 6;
    receiver.answer = () => (failures-- > 0 ? 500 : 200);
    const endpoint = await register(receiver);
    const numbers = await publish(5);
    const accepted = () => receiver.deliveries.filter((_, i) => i >= 6).map((d) => d.id);
    await waitFor(() => accepted().length >= numbers.length, { what: "5 accepted deliveries", timeoutMs: 20_000 });
    expect(receiver.ids().slice(0, 6)).toEqual(idsOf(numbers.slice(0, 1)).flatMap((id) => Array(6).fill(id)));
    expect(accepted()).toEqual(idsOf(numbers));
    // Retried deliveries are signed afresh (a new timestamp each time), and verify.
    expect(receiver.deliveries.map((d) => d.verified)).toEqual(receiver.deliveries.map(() => true));
    // The log gets an attempt once its answer is back, just after the receiver saw it.
    const attemptsLogged = () => admin<WebhookAttempt[]>("GET", `/webhooks/${endpoint.id}/attempts`);
    await waitFor(async () => (await attemptsLogged()).length >= 6 + numbers.length, { what: "11 attempts logged" });
    const attempts = await attemptsLogged();
    expect(attempts.filter((a) => a.status === 500)).toHaveLength(6);
    expect(attempts[0]).toMatchObject({ event_number: numbers.at(-1), status: 200 });
    // Every attempt, failed or delivered, logs how long its receiver took: a whole number of ms
    // within the dispatcher's timeout (WEBHOOK_TIMEOUT_MS, 20 s here).
    expect(attempts).toHaveLength(6 + numbers.length);
    for (const attempt of attempts) {
      expect(Number.isInteger(attempt.latency_ms), JSON.stringify(attempt)).toBe(true);
      expect(attempt.latency_ms).toBeGreaterThanOrEqual(0);
      expect(attempt.latency_ms).toBeLessThan(20_000);
    }
  }, 60_000);

  it("pauses an endpoint whose receiver keeps failing past the retry limit, with its last error", async () => {
    const receiver = await startReceiver();
    receiver.answer = () => 503;
    const endpoint = await register(receiver);
    const [n] = await publish(1);
    await waitFor(
      async () => (await admin<WebhookEndpointDetail>("GET", `/webhooks/${endpoint.id}`)).status === "paused",
      { what: "the endpoint paused", timeoutMs: RETRY_LIMIT_MS + 10_000 },
    );
    const paused = await admin<WebhookEndpointDetail>("GET", `/webhooks/${endpoint.id}`);
    expect(paused.last_error).toBe(`event ${n}: the receiver answered 503`);
    expect(paused.position).toBe(n! - 1);
    // Resumed with a receiver that works, it delivers the event it stopped at.
    receiver.answer = () => 200;
    await admin("POST", `/webhooks/${endpoint.id}/resume`);
    await waitFor(async () => (await admin<WebhookEndpointDetail>("GET", `/webhooks/${endpoint.id}`)).position === n, {
      what: "the event delivered after the resume",
    });
  }, 60_000);

  it("a slow endpoint does not delay another on the same stream held by the same dispatcher", async () => {
    // One dispatcher for this case, so it delivers to both endpoints: with two, the fair share
    // would put them on different instances and the test would show nothing about one instance.
    const second = stack.instances["webhook-dispatcher"][1]!;
    await second.stop();
    try {
      expect(stack.instances["webhook-dispatcher"].filter((d) => d.running())).toHaveLength(1);
      const slow = await startReceiver();
      const fast = await startReceiver();
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      slow.answer = async () => {
        await gate;
        return 200;
      };
      await register(slow);
      await register(fast);
      const numbers = await publish(10);
      await waitFor(() => fast.deliveries.length >= numbers.length && slow.deliveries.length >= 1, {
        what: "the fast endpoint's 10 and the slow one's first",
        timeoutMs: 20_000,
      });
      // The slow one is still held on its first event while the fast one has all ten.
      expect(slow.ids()).toEqual(idsOf(numbers.slice(0, 1)));
      expect(fast.ids()).toEqual(idsOf(numbers));
      release();
      await waitFor(() => slow.deliveries.length >= numbers.length, {
        what: "the slow endpoint's 10",
        timeoutMs: 20_000,
      });
      expect(slow.ids()).toEqual(idsOf(numbers));
    } finally {
      await stack.restart("webhook-dispatcher", 1);
    }
  }, 60_000);

  it("an endpoint deleted while its receiver holds a delivery gets nothing more, and never its first event again", async () => {
    const gone = await startReceiver();
    const control = await startReceiver();
    const endpoint = await register(gone);
    await register(control);
    const first = await publish(3);
    await waitFor(() => gone.deliveries.length === 3, { what: "the first three delivered" });
    // The next delivery is held by its receiver until the endpoint is deleted.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    gone.answer = async () => {
      await held;
      return 204;
    };
    const second = await publish(1);
    await waitFor(() => gone.deliveries.length === 4, { what: "the held delivery" });
    await admin("DELETE", `/webhooks/${endpoint.id}`);
    release();
    const third = await publish(3);
    // The other endpoint on the stream has everything: the deleted one had every chance to misbehave.
    await waitFor(() => idsOf(third).every((id) => control.ids().includes(id)), {
      what: "the control endpoint's deliveries",
    });
    expect(gone.ids()).toEqual(idsOf([...first, ...second]));
  });

  it("replays from a number: the events from it are delivered again, with the same ids", async () => {
    const receiver = await startReceiver();
    const endpoint = await register(receiver);
    const numbers = await publish(4);
    await waitFor(() => receiver.deliveries.length >= 4, { what: "4 deliveries" });
    await admin("POST", `/webhooks/${endpoint.id}/replay`, { from: numbers[1] });
    await waitFor(() => receiver.deliveries.length >= 7, { what: "3 more deliveries" });
    expect(receiver.ids()).toEqual(idsOf([...numbers, ...numbers.slice(1)]));
  }, 30_000);

  it("a replay applies during retries: replaying past an event that keeps failing goes on from there", async () => {
    const receiver = await startReceiver();
    // The first event it is sent fails every time; any other is accepted.
    let failing: string | undefined;
    receiver.answer = (d) => {
      failing ??= d.id;
      return d.id === failing ? 500 : 200;
    };
    const endpoint = await register(receiver);
    const [stuck, next] = await publish(2);
    await waitFor(() => receiver.deliveries.length >= 2, { what: "the first event retried" });
    expect(receiver.ids().slice(0, 2)).toEqual(idsOf([stuck!, stuck!]));
    await admin("POST", `/webhooks/${endpoint.id}/replay`, { from: next });
    await waitFor(() => receiver.ids().includes(idsOf([next!])[0]!), {
      what: "the event after the replayed-past one",
      timeoutMs: RETRY_LIMIT_MS - 1_000,
    });
    const detail = await admin<WebhookEndpointDetail>("GET", `/webhooks/${endpoint.id}`);
    expect(detail.status).toBe("active");
    expect(new Set(receiver.ids())).toEqual(new Set(idsOf([stuck!, next!])));
  }, 30_000);

  it("a rotated secret signs at once; the old one also signs during the grace, and not after a rotation without one", async () => {
    const receiver = await startReceiver();
    const endpoint = await register(receiver);
    const old = endpoint.secret;
    const rotated = await admin<WebhookEndpointCreated>("POST", `/webhooks/${endpoint.id}/rotate-secret`, {
      grace_seconds: 3600,
    });
    receiver.secret = rotated.secret;
    expect(rotated.secret).not.toBe(old);
    // The dispatcher takes the new record at its next scan: wait until a delivery carries both.
    const verifiesWith = (secret: string, d: WebhookDelivery) => {
      try {
        new Webhook(secret).verify(d.body, d.headers as Record<string, string>);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor(
      async () => {
        await publish(1);
        const last = receiver.deliveries.at(-1);
        return last !== undefined && verifiesWith(rotated.secret, last);
      },
      { what: "a delivery signed with the new secret", timeoutMs: 10_000, intervalMs: 200 },
    );
    const during = receiver.deliveries.at(-1) as WebhookDelivery;
    expect(verifiesWith(old, during)).toBe(true);
    expect(String(during.headers["webhook-signature"]).split(" ")).toHaveLength(2);

    const again = await admin<WebhookEndpointCreated>("POST", `/webhooks/${endpoint.id}/rotate-secret`, {
      grace_seconds: 0,
    });
    receiver.secret = again.secret;
    await waitFor(
      async () => {
        await publish(1);
        const last = receiver.deliveries.at(-1);
        return last !== undefined && verifiesWith(again.secret, last);
      },
      { what: "a delivery signed with the third secret", timeoutMs: 10_000, intervalMs: 200 },
    );
    const after = receiver.deliveries.at(-1) as WebhookDelivery;
    expect(verifiesWith(rotated.secret, after)).toBe(false);
    expect(String(after.headers["webhook-signature"]).split(" ")).toHaveLength(1);
  }, 60_000);

  it("two dispatchers share the endpoints, and each endpoint still gets every event once, in order", async () => {
    const many = await Promise.all(Array.from({ length: 6 }, () => startReceiver()));
    for (const receiver of many) await register(receiver);
    await waitFor(async () => (await held(0)) > 0 && (await held(1)) > 0, {
      what: "both dispatchers delivering to some endpoints",
      timeoutMs: 10_000,
    });
    const numbers = await publish(10);
    await waitFor(() => many.every((r) => r.deliveries.length >= numbers.length), {
      what: "10 deliveries to each of 6 endpoints",
      timeoutMs: 20_000,
    });
    for (const receiver of many) expect(receiver.ids()).toEqual(idsOf(numbers));
  }, 60_000);

  it("a kill -9 of the dispatcher delivering to an endpoint: the other takes it over, every event arrives in order, a repeat only of the one in flight", async () => {
    // This endpoint alone, so the held gauges say which dispatcher delivers to it.
    for (const e of await admin<WebhookEndpointDetail[]>("GET", "/webhooks"))
      await admin("DELETE", `/webhooks/${e.id}`);
    await waitFor(async () => (await held(0)) + (await held(1)) === 0, { what: "the deleted endpoints let go" });
    const receiver = await startReceiver();
    // A receiver that takes a while, so the kill lands with deliveries still to come (one in flight).
    receiver.answer = () => new Promise((resolve) => setTimeout(() => resolve(204), 30));
    await register(receiver);
    const before = await publish(20);
    await waitFor(() => receiver.deliveries.length >= 5, { what: "deliveries before the kill", intervalMs: 5 });
    const counts = [await held(0), await held(1)];
    expect([...counts].sort(), "one dispatcher holds the endpoint, the other nothing").toEqual([0, 1]);
    const holder = counts.indexOf(1);
    const other = 1 - holder;
    await stack.killHard("webhook-dispatcher", holder);
    expect(receiver.deliveries.length, "the kill came after every delivery").toBeLessThan(before.length);
    const during = await publish(10);
    // Only the survivor runs until the restart below: these deliveries are its own.
    await waitFor(async () => (await held(other)) === 1, {
      what: "the other dispatcher taking the endpoint over",
      timeoutMs: 10_000,
    });
    const distinct = () => [...new Set(receiver.ids())];
    await waitFor(() => distinct().length >= before.length + during.length, {
      what: "the 30 events published before the restart",
      timeoutMs: 20_000,
    });
    await stack.restart("webhook-dispatcher", holder);
    const after = await publish(10);
    const all = [...before, ...during, ...after];
    await waitFor(() => distinct().length >= all.length, { what: "all 40 events", timeoutMs: 20_000 });
    expect(await held(other), "the endpoint stays with the dispatcher that took it over").toBe(1);
    // A repeat is what a receiver drops by webhook-id: only the delivery the kill interrupted,
    // before its answer was recorded, sent again at once by the next holder, so it directly follows
    // its first copy; any other repeat, or an event out of order, fails here.
    const ids = receiver.ids();
    expect(ids.filter((id, i) => i === 0 || id !== ids[i - 1])).toEqual(idsOf(all));
    expect(ids.length - all.length, `repeats: ${ids.length - all.length}`).toBeLessThanOrEqual(1);
    expect(receiver.deliveries.every((d) => d.verified)).toBe(true);
  }, 90_000);
});

describe("webhook endpoints in the admin API", () => {
  it("refuses a URL on 127.0.0.1 without WEBHOOK_ALLOW_PRIVATE_TARGETS", async () => {
    const strict = await startStack({ nats: stack.nats, redis: stack.redis, services: { "ingest-gateway": 1 } });
    try {
      const call = adminClient(strict.admin);
      const refusal = await call("POST", "/webhooks", {
        subscriber_id: dev.subscriber.id,
        stream_id: dev.streams.algorithm,
        url: "http://127.0.0.1:9/hook",
      }).catch((err: unknown) => err);
      expect(refusal).toBeInstanceOf(ApiError);
      expect(refusal).toMatchObject({ status: 422, code: "WEBHOOK_TARGET_FORBIDDEN" });
    } finally {
      await strict.stop();
    }
  }, 60_000);

  it("refuses a stream the subscriber is not entitled to", async () => {
    const refusal = await admin("POST", "/webhooks", {
      subscriber_id: dev.subscriber.id,
      stream_id: "algorithm-999999",
      url: "http://127.0.0.1:9/hook",
    }).catch((err: unknown) => err);
    expect(refusal).toMatchObject({ status: 403, code: "STREAM_FORBIDDEN" });
  });

  it("rotates a secret on a POST with no body at all (the default grace), as the README's call does", async () => {
    const receiver = await startReceiver();
    const endpoint = await register(receiver);
    const res = await fetch(`${stack.admin.url}/admin/v1/webhooks/${endpoint.id}/rotate-secret`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.admin.token}` },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const rotated = (await res.json()) as WebhookEndpointCreated;
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(endpoint.secret);
  });

  it("lists, pauses and deletes an endpoint; its secret is never shown again", async () => {
    const receiver = await startReceiver();
    const endpoint = await register(receiver);
    const listed = await admin<WebhookEndpointDetail[]>("GET", "/webhooks");
    expect(listed.find((e) => e.id === endpoint.id)).toMatchObject({ url: receiver.url, status: "active" });
    expect(JSON.stringify(listed)).not.toContain("whsec_");
    expect(await admin("POST", `/webhooks/${endpoint.id}/pause`)).toMatchObject({ status: "paused" });
    await admin("DELETE", `/webhooks/${endpoint.id}`);
    expect(await admin("GET", `/webhooks/${endpoint.id}`).catch((err: unknown) => err)).toMatchObject({
      status: 404,
      code: "WEBHOOK_NOT_FOUND",
    });
  });
});

describe("the README's webhook example, run as written", () => {
  it("its curl command registers an endpoint; its standardwebhooks receiver prints every event from 0, once, in order", async () => {
    expect([dev.subscriber.id, dev.streams.algorithm], "the README's subscriber and stream").toEqual([
      "demo-subscriber",
      "algorithm-1",
    ]);
    const [registration] = readmeBlocks("## Webhooks", "sh");
    const [receiverCode] = readmeBlocks("## Webhooks", "ts");
    expect(registration).toContain("http://127.0.0.1:8090/admin/v1/webhooks");
    expect(registration).toContain('"url": "http://127.0.0.1:9000/hook"');
    expect(receiverCode).toContain(".listen(9000,");
    // pnpm dev's addresses become the stack's and a free port; the .heliograph/dev.json the command
    // reads is this stack's seed, in a folder of its own.
    const port = await freePort();
    const cwd = tempDataDir("readme-webhooks-");
    mkdirSync(`${cwd}/.heliograph`);
    writeFileSync(`${cwd}/.heliograph/dev.json`, JSON.stringify(dev));
    const register = startRunning(
      "sh",
      [
        "-c",
        (registration as string)
          .replaceAll("http://127.0.0.1:8090", dev.admin_url)
          .replaceAll("127.0.0.1:9000", `127.0.0.1:${port}`),
      ],
      { cwd },
    );
    expect(await register.exited, register.stderr()).toBe(0);
    const created = JSON.parse(register.stdout()) as WebhookEndpointCreated;
    // What the README shows under the command.
    expect(created).toMatchObject({ status: "active", start_after: -1, secret: expect.stringMatching(/^whsec_/) });
    // Run by Node's own TypeScript support, beside the test package's standardwebhooks.
    const receiver = startRunning(
      process.execPath,
      ["--input-type=module-typescript", "-e", (receiverCode as string).replace(".listen(9000,", `.listen(${port},`)],
      { cwd: `${import.meta.dirname}/..`, env: { WEBHOOK_SECRET: created.secret } },
    );
    try {
      const [last] = await publish(1);
      const printedIds = () => [...receiver.stdout().matchAll(/^(\S+) \{/gm)].map((m) => m[1] as string);
      await waitFor(() => printedIds().includes(`${dev.streams.algorithm}:${last}`), {
        what: `the receiver printing event ${last}`,
        timeoutMs: 20_000,
      });
      expect(printedIds()).toEqual(idsOf(Array.from({ length: last! + 1 }, (_, i) => i)));
    } finally {
      await receiver.stop();
      await admin("DELETE", `/webhooks/${created.id}`);
    }
  }, 60_000);
});
