/**
 * The operators' web console in a real browser (Debian's chromium driven by playwright-core) against
 * a real stack: sign in with the admin token, resolve a halt from the page, rotate a publisher's
 * secret, watch an event arrive in the live tail, and reach controls by keyboard. Screenshots go to
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
  type PublisherCredentials,
  partitionOf,
  type StreamHalt,
  type StreamInfo,
} from "@heliograph/contracts";
import { DOCUMENT_IDEA_OPENED, DOCUMENT_IDEA_UPDATED } from "@heliograph/contracts/fixtures";
import { REPO_ROOT, type Stack, startStack, waitFor } from "@heliograph/testkit";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

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
let algorithmStream: string;
let algorithmId: number;

const admin = <T>(method: "GET" | "POST", path: string, body?: unknown) =>
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
    stack = await startStack();
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

    // An update of an idea never opened cannot pass the gateway's pre-check, so it comes as an INGEST
    // message from another writer of the subject; the sequencer halts the stream on it.
    const stray: IngestMessage = {
      ingest_id: `ing_console_${randomUUID()}`,
      stream_id: HALTED,
      publisher_id: publisher.id,
      event_type: "IdeaUpdated",
      data: { ...ideaData(DOCUMENT_IDEA_UPDATED), id: "never-opened", comment: "stray" },
      received_at: new Date().toISOString(),
    };
    await jetstream(nc).publish(ingestSubject(partitionOf(HALTED), HALTED), JSON.stringify(stray), {
      msgID: stray.ingest_id,
    });
    await waitFor(
      async () =>
        (await admin<StreamHalt[]>("GET", "/halts")).body.some((h) => h.stream_id === HALTED) ? true : undefined,
      { timeoutMs: 20_000, what: `${HALTED} halted` },
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
    const opened = await fetch(`${stack.ingest.url}/api/v1/ideas/${CHANNEL}/open`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "API-KEY": publisher.api_key,
        "API-SECRET": publisher.api_secret,
        "X-Heliograph-Wait": "10",
      },
      body: JSON.stringify({ ...ideaData(DOCUMENT_IDEA_OPENED), id: "after-skip", comment: "numbered after the skip" }),
    });
    expect(opened.status, await opened.clone().text()).toBe(201);
    expect(((await opened.json()) as { event_number: number }).event_number).toBe(0);
    expect((await admin<StreamInfo>("GET", `/streams/${HALTED}`)).body).toMatchObject({ head: 0, status: "live" });
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
