import type { ParkedPublish, StreamHalt, StreamSummary } from "@heliograph/contracts";
import { useEffect, useRef, useState } from "preact/hooks";
import { HaltCard } from "./halts.js";
import { TailView } from "./live-tail.js";
import { ErrorNote, Json, useAdminData, when } from "./widgets.js";

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

export function StreamsPage({ token, open }: { token: string; open: (streamId: string) => void }) {
  const { data, error } = useAdminData<StreamSummary[]>(token, "/streams", REFRESH_MS);
  const rates = useRates(data);
  return (
    <section aria-labelledby="streams-heading">
      <h2 id="streams-heading">Streams</h2>
      <ErrorNote error={error} />
      <table>
        <caption class="muted">Refreshed every {REFRESH_MS / 1000} s; rate from the change of the head.</caption>
        <thead>
          <tr>
            <th scope="col">Stream</th>
            <th scope="col">Kind</th>
            <th scope="col">Publisher</th>
            <th scope="col">Head</th>
            <th scope="col">Status</th>
            <th scope="col">Rate (events/s)</th>
            <th scope="col">Held</th>
            <th scope="col">Hot window from</th>
            <th scope="col">Partition</th>
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
              <td>{s.earliest_hot < 0 ? "—" : s.earliest_hot}</td>
              <td>{s.partition}</td>
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
  const parked = useAdminData<ParkedPublish[]>(token, `/streams/${streamId}/parked`);
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
          <dt>Hot window (Redis) from event</dt>
          <dd>{info.earliest_hot < 0 ? "—" : info.earliest_hot}</dd>
        </dl>
      )}
      {halt.data && info?.status === "halted" && (
        <HaltCard
          token={token}
          halt={halt.data}
          onResolved={() => {
            list.reload();
            parked.reload();
          }}
        />
      )}
      <h3>Last events, then live</h3>
      <TailView token={token} streamId={streamId} />
      <h3>Parked publishes</h3>
      <ErrorNote error={parked.error} />
      {parked.data?.length === 0 && <p class="muted">None.</p>}
      {parked.data?.map((p) => (
        <details key={p.ingest_id}>
          <summary>
            {p.event.event_type} <code>{p.ingest_id}</code> parked {when(p.parked_at)}: {p.reason}
          </summary>
          <Json value={p.event.data} />
        </details>
      ))}
    </section>
  );
}
