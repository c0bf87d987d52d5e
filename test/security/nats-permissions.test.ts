import {
  EVENTS_STREAM,
  eventsSubject,
  INGEST_STREAM,
  ingestSubject,
  LEASE_FREED_SUBJECT,
  sequencedSubject,
} from "@heliograph/contracts";
import { connectNats, createLogger, ensureStreams, type NatsConnection, type NatsRole } from "@heliograph/platform";
import { type NatsServerHandle, startNatsServer, waitFor } from "@heliograph/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// With NATS_URL set the harness does not know each role's password, so nothing here can run.
const reusedServer = Boolean(process.env.NATS_URL);
const log = createLogger({ name: "nats-permissions-test", level: "silent" });

let server: NatsServerHandle;
const connections: NatsConnection[] = [];

/** A connection as `role`, with every permissions violation the server reports on it. */
async function connectAs(role: NatsRole) {
  const nc = await connect({ ...server.connectOptions(role), name: `as-${role}` });
  connections.push(nc);
  const violations: { operation: string; subject: string }[] = [];
  void (async () => {
    for await (const status of nc.status()) {
      const error =
        status.type === "error" ? (status.error as { name?: string; operation?: string; subject?: string }) : undefined;
      if (error?.name === "PermissionViolationError")
        violations.push({ operation: error.operation ?? "", subject: error.subject ?? "" });
    }
  })();
  /** Waits for the server's "Permissions Violation" of `operation` on `subject` (a refusal, not a lost message). */
  const refused = (operation: "publish" | "subscription", subject: string) =>
    waitFor(() => violations.some((v) => v.operation === operation && v.subject === subject), {
      timeoutMs: 5_000,
      what: `the server refusing ${role} to ${operation} ${subject}`,
    });
  const publishRefused = async (subject: string) => {
    nc.publish(subject, "forged");
    await nc.flush();
    await refused("publish", subject);
  };
  return { nc, violations, refused, publishRefused };
}

/** A JetStream API call the role may not make: the server refuses its request subject; the stream is untouched. */
async function apiRefused(as: Awaited<ReturnType<typeof connectAs>>, subject: string, call: () => Promise<unknown>) {
  const outcome = call().then(
    () => "answered",
    () => "failed",
  );
  await as.refused("publish", subject);
  expect(await outcome).toBe("failed");
}

beforeAll(async () => {
  if (reusedServer) return;
  server = await startNatsServer();
  // The sequencer's own user creates the streams, as it does at start.
  const nc = await connectNats({ url: server.url, credentials: server.roles?.sequencer }, log, "setup");
  connections.push(nc);
  await ensureStreams(nc, { replicas: 1, log });
  const js = jetstream(nc);
  await js.publish(eventsSubject("s-perm"), '{"n":1}', { msgID: "s-perm:1" });
  await js.publish(eventsSubject("s-perm"), '{"n":2}', { msgID: "s-perm:2" });
});

afterAll(async () => {
  for (const nc of connections) await nc.close().catch(() => {});
  await server?.stop();
});

describe.skipIf(reusedServer)("NATS users per role (skipped with NATS_URL: the roles' passwords are not known)", () => {
  it("refuses a connection without credentials", async () => {
    await expect(connect({ servers: server.url, maxReconnectAttempts: 0 })).rejects.toThrow(/authorization/i);
  });

  it("downstream: reads EVENTS (an ordered consumer and a message get)", async () => {
    const { nc, violations } = await connectAs("downstream");
    const js = jetstream(nc);
    const consumer = await js.consumers.get(EVENTS_STREAM, { filter_subjects: eventsSubject("s-perm") });
    const read: string[] = [];
    const messages = await consumer.fetch({ max_messages: 2, expires: 5_000 });
    for await (const m of messages) read.push(m.string());
    expect(read).toEqual(['{"n":1}', '{"n":2}']);
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.getMessage(EVENTS_STREAM, { seq: 2 }))?.string()).toBe('{"n":2}');
    expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(2);
    expect(violations).toEqual([]);
  });

  it("downstream: may not publish events, ingest or notices, nor delete, purge or change a stream", async () => {
    const as = await connectAs("downstream");
    await as.publishRefused(eventsSubject("x"));
    await as.publishRefused("ingest.x");
    await as.publishRefused(ingestSubject(0, "x"));
    await as.publishRefused(sequencedSubject(0));
    // Forged lease notices would make every sequencer run a lease tick per message.
    await as.publishRefused(LEASE_FREED_SUBJECT);
    const jsm = await jetstreamManager(as.nc, { timeout: 2_000 });
    await apiRefused(as, `$JS.API.STREAM.DELETE.${EVENTS_STREAM}`, () => jsm.streams.delete(EVENTS_STREAM));
    await apiRefused(as, `$JS.API.STREAM.PURGE.${EVENTS_STREAM}`, () => jsm.streams.purge(EVENTS_STREAM));
    await apiRefused(as, `$JS.API.STREAM.PURGE.${INGEST_STREAM}`, () => jsm.streams.purge(INGEST_STREAM));
    await apiRefused(as, `$JS.API.STREAM.UPDATE.${EVENTS_STREAM}`, () =>
      jsm.streams.update(EVENTS_STREAM, { max_msgs: 1 }),
    );
    const admin = await jetstreamManager(await connectNats(server, log, "admin-check"));
    expect((await admin.streams.info(EVENTS_STREAM)).state.messages).toBe(2);
  });

  it("downstream: may not read another role's replies", async () => {
    const as = await connectAs("downstream");
    as.nc.subscribe("_INBOX_ingest_gateway.>");
    await as.refused("subscription", "_INBOX_ingest_gateway.>");
    as.nc.subscribe("_INBOX.>");
    await as.refused("subscription", "_INBOX.>");
  });

  it("ingest gateway: publishes to INGEST, but may not forge events nor purge INGEST", async () => {
    const as = await connectAs("ingest-gateway");
    const ack = await jetstream(as.nc).publish(ingestSubject(0, "s-perm"), "{}", { msgID: "perm-1" });
    expect(ack.stream).toBe(INGEST_STREAM);
    await as.publishRefused(eventsSubject("x"));
    const jsm = await jetstreamManager(as.nc, { timeout: 2_000 });
    await apiRefused(as, `$JS.API.STREAM.PURGE.${INGEST_STREAM}`, () => jsm.streams.purge(INGEST_STREAM));
    await apiRefused(as, `$JS.API.STREAM.DELETE.${INGEST_STREAM}`, () => jsm.streams.delete(INGEST_STREAM));
  });

  it("ingest gateway: tails EVENTS with an ordered consumer (the admin API's live tail), but may not ack it", async () => {
    const as = await connectAs("ingest-gateway");
    const consumer = await jetstream(as.nc).consumers.get(EVENTS_STREAM, { filter_subjects: eventsSubject("s-perm") });
    const read: string[] = [];
    for await (const m of await consumer.fetch({ max_messages: 2, expires: 5_000 })) read.push(m.string());
    expect(read).toEqual(['{"n":1}', '{"n":2}']);
    expect(as.violations).toEqual([]);
    await as.publishRefused(`$JS.ACK.${EVENTS_STREAM}.x.1.1.1.1.1`);
  });

  it("stream gateway: may not publish ingest, events or sequenced notices", async () => {
    const as = await connectAs("stream-gateway");
    await as.publishRefused("ingest.x");
    await as.publishRefused(ingestSubject(0, "x"));
    await as.publishRefused(eventsSubject("x"));
    await as.publishRefused("heliograph.sequenced.x");
    await as.publishRefused(LEASE_FREED_SUBJECT);
  });

  it("sequencer: announces freed leases to the other sequencers", async () => {
    const [a, b] = [await connectAs("sequencer"), await connectAs("sequencer")];
    const heard: string[] = [];
    b.nc.subscribe(LEASE_FREED_SUBJECT, {
      callback: (_err, msg) => {
        heard.push(msg.string());
      },
    });
    await b.nc.flush();
    a.nc.publish(LEASE_FREED_SUBJECT, '{"partitions":[3]}');
    await waitFor(() => heard.length === 1, { what: "the lease-freed notice" });
    expect([...a.violations, ...b.violations]).toEqual([]);
  });

  it("sequencer: publishes events, but may not publish to INGEST", async () => {
    const as = await connectAs("sequencer");
    await as.publishRefused("ingest.x");
    await as.publishRefused(ingestSubject(0, "x"));
    const ack = await jetstream(as.nc).publish(eventsSubject("s-seq"), "{}", { msgID: "s-seq:1" });
    expect(ack.stream).toBe(EVENTS_STREAM);
  });
});
