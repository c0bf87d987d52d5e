import type { JetStreamRetention, PartitionsOverview, StreamHalt, StreamSummary } from "@heliograph/contracts";
import { useEffect, useRef, useState } from "preact/hooks";
import { HaltCard } from "./halts.js";
import { TailView } from "./live-tail.js";
import { ParkedList } from "./parked.js";
import { ErrorNote, useAdminData } from "./widgets.js";

const REFRESH_MS = 2_000;

/** Events per second from the change of each stream's head between two refreshes (there is no rate metric to ask). */
function useRates(streams: StreamSummary[] | undefined): Map<string, number> {
  const previous = useRef<{ at: number; heads: Map<string, number> } | undefined>(undefined);
  const [rates, setRates] = useState(new Map<string, number>());
  useEffect(() => {
    if (!streams) return;
    const now = Date.now();
    const heads = new Map(streams.map((s) => [s.stream_id, s.head]));
    const before = previous.current;
    if (before && now > before.at) {
      const next = new Map<string, number>();
      for (const [id, head] of heads) {
        const old = before.heads.get(id);
        if (old !== undefined) next.set(id, Math.max(0, head - old) / ((now - before.at) / 1000));
      }
      setRates(next);
    }
    previous.current = { at: now, heads };
  }, [streams]);
  return rates;
}

/** How long EVENTS keeps an event: what a stream's events older than its hot window are read from. */
export const eventsKeep = (r: JetStreamRetention) =>
  `${r.max_age_seconds > 0 ? duration(r.max_age_seconds) : "any age"}${r.max_bytes >= 0 ? `, ${r.max_bytes} bytes` : ""}`;

function duration(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600} h`;
  return `${seconds} s`;
}

/** The events a stream serves: the hot window (Redis) and, before it, what EVENTS still keeps. */
const hotWindow = (s: StreamSummary) => (s.earliest_hot < 0 ? "empty" : `${s.earliest_hot}–${s.head}`);

/** The lag of each INGEST partition (messages not yet numbered), by partition. */
function usePartitions(token: string) {
  const overview = useAdminData<PartitionsOverview>(token, "/partitions", REFRESH_MS);
  const lags = new Map(overview.data?.partitions.map((p) => [p.partition, p.lag]));
  return { overview, lagOf: (partition: number) => (overview.data ? (lags.get(partition) ?? "—") : "…") };
}

export function StreamsPage({ token, open }: { token: string; open: (streamId: string) => void }) {
  const { data, error } = useAdminData<StreamSummary[]>(token, "/streams", REFRESH_MS);
  const rates = useRates(data);
  const { overview, lagOf } = usePartitions(token);
  const events = overview.data?.events;
  return (
    <section aria-labelledby="streams-heading">
      <h2 id="streams-heading">Streams</h2>
      <ErrorNote error={error ?? overview.error} />
      <table>
        <caption class="muted">
          Refreshed every {REFRESH_MS / 1000} s; rate from the change of the head. Partition lag: INGEST messages of the
          stream's partition not yet numbered. Retention: the hot window (Redis) holds the events shown; older ones are
          read from EVENTS, which keeps {events ? eventsKeep(events) : "…"}.
        </caption>
        <thead>
          <tr>
            <th scope="col">Stream</th>
            <th scope="col">Kind</th>
            <th scope="col">Publisher</th>
            <th scope="col">Head</th>
            <th scope="col">Status</th>
            <th scope="col">Rate (events/s)</th>
            <th scope="col">Held</th>
            <th scope="col">Parked</th>
            <th scope="col">Partition</th>
            <th scope="col">Partition lag</th>
            <th scope="col">Hot window</th>
            <th scope="col">EVENTS keeps</th>
          </tr>
        </thead>
        <tbody>
          {data?.map((s) => (
            <tr key={s.stream_id}>
              <th scope="row">
                <button type="button" onClick={() => open(s.stream_id)} aria-label={`Open stream ${s.stream_id}`}>
                  {s.stream_id}
                </button>
                {s.title && <div class="muted">{s.title}</div>}
              </th>
              <td>{s.kind}</td>
              <td>{s.publisher_id ?? ""}</td>
              <td data-head={s.stream_id}>{s.head}</td>
              <td class={`status-${s.status}`}>{s.status}</td>
              <td>{rates.get(s.stream_id)?.toFixed(1) ?? "…"}</td>
              <td>{s.held}</td>
              <td>{s.parked}</td>
              <td>{s.partition}</td>
              <td>{lagOf(s.partition)}</td>
              <td>{hotWindow(s)}</td>
              <td>{events ? eventsKeep(events) : "…"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function StreamDetail({ token, streamId, back }: { token: string; streamId: string; back: () => void }) {
  const list = useAdminData<StreamSummary[]>(token, "/streams", REFRESH_MS);
  const info = list.data?.find((s) => s.stream_id === streamId);
  const halt = useAdminData<StreamHalt>(token, info?.status === "halted" ? `/streams/${streamId}/halt` : null);
  const { overview, lagOf } = usePartitions(token);
  return (
    <section aria-labelledby="stream-heading">
      <button type="button" onClick={back}>
        ← All streams
      </button>
      <h2 id="stream-heading">
        Stream <code>{streamId}</code>
      </h2>
      <ErrorNote error={list.error} />
      {info && (
        <dl>
          <dt>Head</dt>
          <dd data-testid="stream-head">{info.head}</dd>
          <dt>Status</dt>
          <dd class={`status-${info.status}`}>{info.status}</dd>
          <dt>Held behind a halt</dt>
          <dd>{info.held}</dd>
          <dt>Partition</dt>
          <dd>{info.partition}</dd>
          <dt>Partition lag (INGEST messages not yet numbered)</dt>
          <dd>{lagOf(info.partition)}</dd>
          <dt>Hot window (Redis)</dt>
          <dd>{hotWindow(info)}</dd>
          <dt>EVENTS keeps (older events)</dt>
          <dd>{overview.data ? eventsKeep(overview.data.events) : "…"}</dd>
        </dl>
      )}
      {halt.data && info?.status === "halted" && (
        <HaltCard token={token} halt={halt.data} onResolved={() => list.reload()} />
      )}
      <h3>Last events, then live</h3>
      <TailView token={token} streamId={streamId} />
      <h3>Parked publishes</h3>
      <ParkedList key={`${streamId}:${info?.parked}`} token={token} streamId={streamId} />
    </section>
  );
}
