/**
 * The operators' web console in a real browser (Debian's chromium driven by playwright-core) against
 * a real stack (with a webhook dispatcher): sign in with the admin token, read the streams table,
 * resolve halts from the page (skip; retry with replacement data), find a parked publish, rotate a
 * publisher's secret, set a subscriber's entitlements, run a webhook endpoint through its life
 * (created with its secret shown once, paused by failures, resumed, rotated, deleted), watch an
 * event arrive in the live tail, and reach controls by keyboard. Screenshots go to
 * test-results/console/. Without chromium the file skips, except under CI, where that fails.
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { adminRequest } from "@heliograph/admin-client";
import { buildConsole } from "@heliograph/console/build";
import {
  type IngestMessage,
  ideasStreamId,
  ingestSubject,
  type ParkedPublish,
  type PartitionsOverview,
  type PublisherCredentials,
  partitionOf,
  type StreamHalt,
  type StreamInfo,
  type SubscriberCredentials,
  type WebhookEndpoint,
} from "@heliograph/contracts";
import { DOCUMENT_IDEA_OPENED, DOCUMENT_IDEA_UPDATED } from "@heliograph/contracts/fixtures";
import { REPO_ROOT, type Stack, startStack, waitFor } from "@heliograph/testkit";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type Browser, chromium, type Page } from "playwright-core";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebhookReceiver } from "../e2e/webhook-receiver.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) {
  throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium; the console's browser test cannot run`);
}
const SCREENSHOTS = join(REPO_ROOT, "test-results", "console");

let stack: Stack;
let nc: NatsConnection;
let browser: Browser;
let page: Page;
let publisher: PublisherCredentials;
const CHANNEL = "console-desk";
const HALTED = ideasStreamId(CHANNEL);
/** A second halted stream, resolved by a retry with replacement data; an open idea and a publish held behind it. */
const RETRY_CHANNEL = "console-retry";
const RETRIED = ideasStreamId(RETRY_CHANNEL);
const strays = new Map<string, IngestMessage>();
const SUBSCRIBER = "console-sub";
let receiver: WebhookReceiver;
let algorithmStream: string;
let algorithmId: number;

const admin = <T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown) =>
  adminRequest<T>(stack.admin, method, path, body);

const shot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

function postSignal(creds: { api_key: string; api_secret: string }, ticker: string) {
  return fetch(`${stack.ingest.url}/api/v1/create_trading_signal`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "API-KEY": creds.api_key,
      "API-SECRET": creds.api_secret,
      "X-Heliograph-Wait": "10",
    },
    body: JSON.stringify({
      algorithm_id: algorithmId,
      ticker_symbol: ticker,
      order_type: "market",
      portfolio_ratio_investment: 0.01,
      side: "buy",
      time_in_force: "gtc",
    }),
  });
}

function publishIdea(channel: string, data: IngestMessage["data"], wait: boolean) {
  return fetch(`${stack.ingest.url}/api/v1/ideas/${channel}/open`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "API-KEY": publisher.api_key,
      "API-SECRET": publisher.api_secret,
      ...(wait ? { "X-Heliograph-Wait": "10" } : {}),
    },
    body: JSON.stringify(data),
  });
}

/** An update of an idea never opened, as an INGEST message from another writer (the gateway's pre-check refuses it); it halts the stream. */
async function publishStray(streamId: string, comment: string): Promise<void> {
  const stray: IngestMessage = {
    ingest_id: `ing_console_${randomUUID()}`,
    stream_id: streamId,
    publisher_id: publisher.id,
    event_type: "IdeaUpdated",
    data: { ...ideaData(DOCUMENT_IDEA_UPDATED), id: "never-opened", comment },
    received_at: new Date().toISOString(),
  };
  strays.set(streamId, stray);
  await jetstream(nc).publish(ingestSubject(partitionOf(streamId), streamId), JSON.stringify(stray), {
    msgID: stray.ingest_id,
  });
}

/** One row of the streams table as {column header: cell text}. */
async function streamRow(streamId: string): Promise<Record<string, string>> {
  const opener = page.getByRole("button", { name: `Open stream ${streamId}`, exact: true });
  const table = page.getByRole("table").filter({ has: opener });
  const headers = await table.locator("thead th").allTextContents();
  const cells = await table.getByRole("row").filter({ has: opener }).locator("th, td").allTextContents();
  return Object.fromEntries(headers.map((h, i) => [h, (cells[i] ?? "").trim()]));
}

/** Waits until the streams table shows `expected` in the row of `streamId` (it refreshes every 2 s). */
async function waitForStreamRow(streamId: string, expected: Record<string, string>): Promise<void> {
  let last: Record<string, string> = {};
  await waitFor(
    async () => {
      last = await streamRow(streamId);
      return Object.entries(expected).every(([k, v]) => last[k] === v) ? true : undefined;
    },
    { what: `${streamId} shown as ${JSON.stringify(expected)}` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; the row shows ${JSON.stringify(last)}`);
  });
}

/** The document's example `data` as a publish body (no published_at), stamped now. */
function ideaData(example: { data: Record<string, unknown> }): IngestMessage["data"] {
  const { published_at: _, ...data } = structuredClone(example.data);
  return { ...data, id: String(data.id), timestamp: new Date().toISOString() };
}

/** Presses Tab until the focused element is the one `name` names, then answers it (bounded: a page has few controls). */
async function tabTo(name: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press("Tab");
    // A string, evaluated in the page: this file is compiled for Node, without the DOM's types.
    const focused = await page.evaluate<string>(
      '(document.activeElement?.getAttribute("aria-label") ?? document.activeElement?.textContent ?? "").trim()',
    );
    if (focused === name) return;
  }
  throw new Error(`Tab never reached "${name}"`);
}

if (!haveChromium)
  console.warn(`console browser test skipped: ${CHROMIUM} is not installed (apt-get install chromium)`);

describe.skipIf(!haveChromium)("the web console in a real browser", () => {
  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    await buildConsole();
    stack = await startStack({
      services: { "ingest-gateway": 1, sequencer: 1, "stream-gateway": 1, "webhook-dispatcher": 1 },
      // A failing receiver pauses its endpoint within about a second, so the page can show it.
      env: {
        WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
        WEBHOOK_RETRY_BASE_MS: "50",
        WEBHOOK_RETRY_MAX_DELAY_MS: "200",
        WEBHOOK_RETRY_LIMIT_MS: "1000",
      },
    });
    receiver = await WebhookReceiver.start();
    nc = await connect(stack.nats.connectOptions());
    const created = await admin<PublisherCredentials>("POST", "/publishers", {
      id: "console-pub",
      name: "Console desk",
    });
    expect(created.status, created.text).toBe(201);
    publisher = created.body;
    expect((await admin("POST", "/channels", { id: CHANNEL, publisher_id: publisher.id, title: "Desk" })).status).toBe(
      201,
    );
    const algorithm = await admin<{ id: number; stream_id: string }>("POST", "/algorithms", {
      publisher_id: publisher.id,
      name: "Tailed",
    });
    expect(algorithm.status).toBe(201);
    algorithmId = algorithm.body.id;
    algorithmStream = algorithm.body.stream_id;

    expect(
      (await admin("POST", "/channels", { id: RETRY_CHANNEL, publisher_id: publisher.id, title: "Retried" })).status,
    ).toBe(201);
    const opened = await publishIdea(RETRY_CHANNEL, { ...ideaData(DOCUMENT_IDEA_OPENED), id: "open-idea" }, true);
    expect(opened.status, await opened.clone().text()).toBe(201);

    await Promise.all([publishStray(HALTED, "stray"), publishStray(RETRIED, "stray to replace")]);
    await waitFor(
      async () => {
        const halted = new Set((await admin<StreamHalt[]>("GET", "/halts")).body.map((h) => h.stream_id));
        return halted.has(HALTED) && halted.has(RETRIED) ? true : undefined;
      },
      { timeoutMs: 20_000, what: `${HALTED} and ${RETRIED} halted` },
    );
    // A good publish behind the halt: held, and numbered once the halt is resolved.
    const behind = await publishIdea(RETRY_CHANNEL, { ...ideaData(DOCUMENT_IDEA_OPENED), id: "behind" }, false);
    expect(behind.status, await behind.clone().text()).toBe(202);
    await waitFor(
      async () => ((await admin<StreamInfo>("GET", `/streams/${RETRIED}`)).body.held === 2 ? true : undefined),
      { what: `the publish behind the halt of ${RETRIED} held` },
    );

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await receiver?.close();
    await nc?.drain();
    await stack?.stop();
  });

  it("signs in with the admin token typed into its labelled field, and lists the streams", async () => {
    await page.goto(`${stack.admin.url}/console/`);
    const tokenField = page.getByLabel("Admin token");
    await tokenField.fill(`${stack.adminToken}x`);
    await tokenField.press("Enter");
    await page.getByRole("alert").filter({ hasText: "AUTH_INVALID" }).waitFor();
    await tokenField.fill(stack.adminToken);
    await tokenField.press("Enter");
    await page.getByRole("navigation", { name: "Sections" }).waitFor();
    await page.getByRole("button", { name: `Open stream ${HALTED}` }).waitFor();
    await page.getByRole("button", { name: `Open stream ${algorithmStream}` }).waitFor();
    await shot("streams");
    // The token stays in this tab's sessionStorage, never in the URL.
    expect(page.url()).not.toContain(stack.adminToken);
  });

  it("shows each stream's head, status and held publishes in the streams table", async () => {
    // The test stack's EVENTS keeps every event, as the page says.
    expect((await admin<PartitionsOverview>("GET", "/partitions")).body.events).toMatchObject({
      max_age_seconds: 0,
      max_bytes: -1,
    });
    await waitForStreamRow(HALTED, { Head: "-1", Status: "halted", Held: "1", Parked: "0", Kind: "ideas" });
    // An open idea numbered 0, the offending update, a good publish held behind it.
    await waitForStreamRow(RETRIED, {
      Head: "0",
      Status: "halted",
      Held: "2",
      Publisher: publisher.id,
      Partition: String(partitionOf(RETRIED)),
      "Hot window": "0–0",
      "EVENTS keeps": "any age",
    });
    // Held publishes are out of INGEST's hands: the partitions' lag drains to 0 behind a halt too.
    await waitForStreamRow(RETRIED, { "Partition lag": "0" });
    await waitForStreamRow(algorithmStream, {
      Head: "-1",
      Status: "live",
      Held: "0",
      Kind: "algorithm",
      "Hot window": "empty",
      "Partition lag": "0",
    });
    await shot("streams-halted");
  });

  it("resolves a halt from the page: Skip, confirmed in a dialog; the stream numbers again", async () => {
    await page.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Halts" }).click();
    await page.getByText("stray").first().waitFor();
    await page.getByRole("button", { name: `Skip the offending event of ${HALTED}` }).click();
    const dialog = page.getByRole("dialog", { name: `Skip the offending event of ${HALTED}?` });
    await dialog.waitFor();
    await shot("halt-confirm");
    await dialog.getByRole("button", { name: "Skip it" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: `Resolved ${HALTED}: skip` })
      .waitFor();
    await shot("halt-resolved");

    const parked = await admin<ParkedPublish[]>("GET", `/streams/${HALTED}/parked`);
    expect(parked.body.map((p) => p.event.data.comment)).toEqual(["stray"]);
    const opened = await publishIdea(
      CHANNEL,
      { ...ideaData(DOCUMENT_IDEA_OPENED), id: "after-skip", comment: "numbered after the skip" },
      true,
    );
    expect(opened.status, await opened.clone().text()).toBe(201);
    expect(((await opened.json()) as { event_number: number }).event_number).toBe(0);
    expect((await admin<StreamInfo>("GET", `/streams/${HALTED}`)).body).toMatchObject({ head: 0, status: "live" });
  });

  it("retries a halt with replacement data typed on the page, after a confirmation that can be cancelled", async () => {
    await page.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Halts" }).click();
    const data = page.getByLabel(`Replacement data (JSON) for a retry of ${RETRIED}`);
    await data.waitFor();
    const retry = page.getByRole("button", {
      name: `Retry the offending event of ${RETRIED} with the replacement data`,
    });
    await data.fill("{ not json");
    await page.getByText("Not a JSON object").waitFor();
    expect(await retry.isDisabled()).toBe(true);

    // The offending update names an idea never opened; the fix names the one that is open.
    const stray = strays.get(RETRIED) as IngestMessage;
    await data.fill(JSON.stringify({ ...stray.data, id: "open-idea", comment: "replaced from the console" }, null, 2));
    await retry.click();
    const dialog = page.getByRole("dialog", { name: `Retry the offending event of ${RETRIED}?` });
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    expect((await admin<StreamInfo>("GET", `/streams/${RETRIED}`)).body).toMatchObject({ status: "halted", held: 2 });

    await retry.click();
    await shot("halt-retry-confirm");
    await dialog.getByRole("button", { name: "Retry it" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: `Resolved ${RETRIED}: retry of ${stray.ingest_id}` })
      .waitFor();
    // The replacement is event 1 and the held publish event 2.
    await waitFor(
      async () => {
        const info = (await admin<StreamInfo>("GET", `/streams/${RETRIED}`)).body;
        return info.head === 2 && info.status === "live" && info.held === 0 ? true : undefined;
      },
      { what: `${RETRIED} live at head 2` },
    );
    await page.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Streams" }).click();
    await page.getByRole("button", { name: `Open stream ${RETRIED}`, exact: true }).click();
    const events = page.getByRole("list", { name: `Events of ${RETRIED}` });
    const replaced = events.locator('[data-event-number="1"]');
    await replaced.waitFor();
    expect(await replaced.textContent()).toContain("replaced from the console");
    expect(await events.locator('[data-event-number="2"]').textContent()).toContain('"behind"');
    await shot("halt-retried");
  });

  it("lists a skipped publish among the parked publishes across streams and on its stream's page", async () => {
    const stray = strays.get(HALTED) as IngestMessage;
    await page.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Streams" }).click();
    await waitForStreamRow(HALTED, { Parked: "1" });
    await page.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Parked" }).click();
    const across = page.getByRole("list", { name: `Parked publishes of ${HALTED}` });
    const parked = across.locator("details").filter({ hasText: stray.ingest_id });
    await parked.locator("summary").click();
    await parked.getByText('"comment": "stray"').waitFor();
    expect(await parked.locator("summary").textContent()).toContain("IdeaUpdated");
    // The retried stream parked nothing: it is not listed.
    expect(await page.getByRole("list", { name: `Parked publishes of ${RETRIED}` }).count()).toBe(0);
    await shot("parked");

    await page.getByRole("button", { name: `Open stream ${HALTED}`, exact: true }).click();
    await page.getByRole("heading", { name: "Parked publishes" }).waitFor();
    await page
      .getByRole("list", { name: `Parked publishes of ${HALTED}` })
      .getByText(stray.ingest_id)
      .waitFor();
    await shot("stream-parked");
  });

  it("rotates a publisher's secret: the one shown once works, the old one is refused", async () => {
    const old = publisher;
    await page.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Tenants" }).click();
    await page.getByRole("button", { name: `Rotate the secret of publisher ${old.id}` }).click();
    const dialog = page.getByRole("dialog", { name: `Rotate the secret of ${old.id}?` });
    await dialog.getByRole("button", { name: "Rotate" }).click();
    const shown = page.getByRole("status", { name: `New credentials of ${old.id}` });
    await shown.waitFor();
    await shot("secret-rotated");
    const apiKey = (await shown.locator('[data-credential="API key"]').textContent()) ?? "";
    const apiSecret = (await shown.locator('[data-credential="API secret"]').textContent()) ?? "";
    expect(apiSecret).not.toBe(old.api_secret);
    await waitFor(async () => ((await postSignal(old, "OLD")).status === 401 ? true : undefined), {
      what: "the old secret refused",
    });
    const fresh = await postSignal({ api_key: apiKey, api_secret: apiSecret }, "NEW");
    expect(fresh.status, await fresh.clone().text()).toBe(201);
    publisher = { ...old, api_key: apiKey, api_secret: apiSecret };
    await shown.getByRole("button", { name: "Done" }).click();
  });

  it("shows an event in the live tail that was published after the page opened", async () => {
    await page.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Live tail" }).click();
    const field = page.getByLabel("Stream id");
    await field.fill(algorithmStream);
    await field.press("Enter");
    await page
      .getByRole("status")
      .filter({ hasText: `Tail of ${algorithmStream}: live` })
      .waitFor();
    const sent = await postSignal(publisher, "TAILED");
    expect(sent.status, await sent.clone().text()).toBe(201);
    const n = ((await sent.json()) as { event_number: number }).event_number;
    const events = page.getByRole("list", { name: `Events of ${algorithmStream}` });
    await events.getByRole("listitem").filter({ hasText: "TAILED" }).waitFor();
    expect(await events.locator(`[data-event-number="${n}"]`).textContent()).toContain("TradingSignalCreated");
    await shot("live-tail");
  });

  it("sets a subscriber's entitlements: the streams saved on the page are the ones its token reads", async () => {
    const read = async (token: string, streamId: string) => {
      const res = await fetch(`${stack.stream.url}/api/v1/stream/${streamId}/-1/10`, {
        headers: { authorization: `Bearer ${token}`, "x-long-poll": "0" },
      });
      await res.arrayBuffer();
      return res.status;
    };
    await page.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Tenants" }).click();
    await page
      .getByRole("navigation", { name: "Tenant sections" })
      .getByRole("button", { name: "Subscribers" })
      .click();
    await page.getByLabel("Subscriber name").fill("Console reader");
    await page.getByLabel("Subscriber id (optional)").fill(SUBSCRIBER);
    await page.getByLabel("Entitled streams (comma-separated)").fill(HALTED);
    await page.getByRole("button", { name: "Create subscriber" }).click();
    const shown = page.getByRole("status", { name: `New subscriber ${SUBSCRIBER}` });
    const token = (await shown.locator('[data-credential="Bearer token"]').textContent()) ?? "";
    await shown.getByRole("button", { name: "Done" }).click();
    await waitFor(async () => ((await read(token, HALTED)) === 200 ? true : undefined), { what: `${HALTED} readable` });
    expect(await read(token, algorithmStream)).toBe(403);

    const entitlements = page.getByLabel(`Streams of ${SUBSCRIBER}`);
    await entitlements.fill(`${algorithmStream}, ${RETRIED}`);
    await page.getByRole("button", { name: `Save the entitlements of ${SUBSCRIBER}` }).click();
    await waitFor(async () => ((await read(token, HALTED)) === 403 ? true : undefined), {
      what: `${HALTED} refused once saved away`,
    });
    expect(await read(token, algorithmStream)).toBe(200);
    expect((await admin<{ streams: string[] }>("GET", `/subscribers/${SUBSCRIBER}`)).body.streams.sort()).toEqual(
      [algorithmStream, RETRIED].sort(),
    );
    await shot("subscriber-entitlements");
  });

  it("runs a webhook endpoint: secret shown once, paused by a failing receiver with its error, resumed, rotated, deleted", async () => {
    await page.getByRole("navigation", { name: "Tenant sections" }).getByRole("button", { name: "Webhooks" }).click();
    await page.getByLabel("Subscriber id").fill(SUBSCRIBER);
    await page.getByLabel("Stream id").fill(algorithmStream);
    await page.getByLabel("Endpoint URL").fill(receiver.url);
    await page.getByRole("button", { name: "Register webhook" }).click();
    const created = page.getByRole("status").filter({ hasText: "New webhook endpoint" });
    const secret = (await created.locator('[data-credential="Signing secret"]').textContent()) ?? "";
    expect(secret).toMatch(/^whsec_/);
    const endpoint = (await admin<WebhookEndpoint[]>("GET", "/webhooks")).body.find((w) => w.url === receiver.url);
    if (!endpoint) throw new Error("the endpoint registered on the page is not listed");
    const id = endpoint.id;
    await shot("webhook-created");
    await created.getByRole("button", { name: "Done" }).click();
    // Shown once: gone from the page once dismissed (and no admin answer carries it again).
    await created.waitFor({ state: "hidden" });
    expect(await page.content()).not.toContain(secret);

    const row = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: id, exact: true }) });
    receiver.answer = () => 500;
    const failed = await postSignal(publisher, "HOOKED");
    expect(failed.status).toBe(201);
    const n = ((await failed.json()) as { event_number: number }).event_number;
    await row.getByText(`event ${n}: the receiver answered 500`).waitFor();
    await page.locator(`[data-webhook-status="${id}"]`).filter({ hasText: "paused" }).waitFor();
    await row.getByText("Last attempts").click();
    await shot("webhook-paused");

    receiver.answer = () => 204;
    await page.getByRole("button", { name: `Resume webhook ${id}` }).click();
    await row.getByText(`delivered up to ${n}`, { exact: true }).waitFor();
    await page.locator(`[data-webhook-status="${id}"]`).filter({ hasText: "active" }).waitFor();
    // Resumed, the endpoint no longer shows why it was paused.
    await row.getByText(`event ${n}: the receiver answered 500`).waitFor({ state: "detached" });
    expect((await admin<WebhookEndpoint>("GET", `/webhooks/${id}`)).body.last_error).toBeUndefined();
    const delivered = receiver.delivery(`${algorithmStream}:${n}`);
    expect(() =>
      new Webhook(secret).verify(delivered?.body ?? "", delivered?.headers as Record<string, string>),
    ).not.toThrow();

    await page.getByRole("button", { name: `Rotate the signing secret of webhook ${id}` }).click();
    await page
      .getByRole("dialog", { name: `Rotate the signing secret of ${id}?` })
      .getByRole("button", { name: "Rotate" })
      .click();
    const rotated = page.getByRole("status", { name: `New signing secret of ${id}` });
    const fresh = (await rotated.locator('[data-credential="Signing secret"]').textContent()) ?? "";
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(secret);
    await rotated.getByRole("button", { name: "Done" }).click();
    const next = await postSignal(publisher, "ROTATED");
    const m = ((await next.json()) as { event_number: number }).event_number;
    const signed = await waitFor(() => receiver.delivery(`${algorithmStream}:${m}`), { what: `event ${m} delivered` });
    expect(() => new Webhook(fresh).verify(signed.body, signed.headers as Record<string, string>)).not.toThrow();

    await page.getByRole("button", { name: `Delete webhook ${id}` }).click();
    await page
      .getByRole("dialog", { name: `Delete ${id}?` })
      .getByRole("button", { name: "Delete" })
      .click();
    await row.waitFor({ state: "detached" });
    expect((await admin("GET", `/webhooks/${id}`)).status).toBe(404);
  });

  it("deletes an idea channel after a confirmation: idea calls are refused, its stream is still read", async () => {
    await page.getByRole("navigation", { name: "Tenant sections" }).getByRole("button", { name: "Channels" }).click();
    await page.getByRole("button", { name: `Delete channel ${RETRY_CHANNEL}` }).click();
    const dialog = page.getByRole("dialog", { name: `Delete channel ${RETRY_CHANNEL}?` });
    await shot("channel-delete-confirm");
    await dialog.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("rowheader", { name: RETRY_CHANNEL, exact: true }).waitFor({ state: "detached" });
    const refused = await publishIdea(RETRY_CHANNEL, { ...ideaData(DOCUMENT_IDEA_OPENED), id: "too-late" }, false);
    expect(refused.status).toBe(404);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("IDEA_CHANNEL_NOT_FOUND");
    // The subscriber entitled to its stream still reads its three events.
    const token = (await admin<SubscriberCredentials>("POST", `/subscribers/${SUBSCRIBER}/rotate-token`)).body.token;
    const read = await fetch(`${stack.stream.url}/api/v1/stream/${RETRIED}/-1/10`, {
      headers: { authorization: `Bearer ${token}`, "x-long-poll": "0" },
    });
    expect(read.status).toBe(200);
    expect(JSON.stringify(await read.json())).toContain("replaced from the console");
  });

  it("is usable by keyboard: Tab reaches a section and Enter opens it", async () => {
    await page.goto(`${stack.admin.url}/console/#streams`);
    await page.getByRole("navigation", { name: "Sections" }).waitFor();
    await tabTo("Sequencers");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Sequencers" }).waitFor();
    // Every partition has its holder; the one sequencer holds them all.
    await page.getByRole("table").filter({ hasText: "INGEST partitions" }).getByRole("row").nth(1).waitFor();
    await shot("sequencers");
    // Forms name their fields: these lookups work only through <label>.
    await page.getByRole("navigation", { name: "Sections" }).getByRole("button", { name: "Tenants" }).click();
    for (const label of ["Publisher name", "Publisher id (optional)"]) await page.getByLabel(label).waitFor();
    await page.getByRole("button", { name: "Webhooks" }).press("Enter");
    for (const label of ["Subscriber id", "Stream id", "Endpoint URL"]) await page.getByLabel(label).waitFor();
  });
});
