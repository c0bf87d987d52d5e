import type { ParkedPublish, StreamSummary } from "@heliograph/contracts";
import { ErrorNote, Json, useAdminData, when } from "./widgets.js";

const REFRESH_MS = 5_000;

/** The publishes operators skipped on one stream, oldest first, each with its data on demand. */
export function ParkedList({ token, streamId }: { token: string; streamId: string }) {
  const parked = useAdminData<ParkedPublish[]>(token, `/streams/${streamId}/parked`);
  return (
    <>
      <ErrorNote error={parked.error} />
      {parked.data?.length === 0 && <p class="muted">None.</p>}
      <ul class="parked" aria-label={`Parked publishes of ${streamId}`}>
        {parked.data?.map((p) => (
          <li key={p.ingest_id}>
            <details>
              <summary>
                {p.event.event_type} <code>{p.ingest_id}</code> parked {when(p.parked_at)}: {p.reason}
              </summary>
              <Json value={p.event.data} />
            </details>
          </li>
        ))}
      </ul>
    </>
  );
}

/** Every stream with parked publishes, and those publishes: what operators skipped, across streams. */
export function ParkedPage({ token, open }: { token: string; open: (streamId: string) => void }) {
  const streams = useAdminData<StreamSummary[]>(token, "/streams", REFRESH_MS);
  const withParked = streams.data?.filter((s) => s.parked > 0);
  return (
    <section aria-labelledby="parked-heading">
      <h2 id="parked-heading">Parked publishes</h2>
      <p class="muted">
        Publishes skipped to resolve a halt: kept, never numbered. A publisher's status lookup answers "parked" for
        them. Refreshed every {REFRESH_MS / 1000} s.
      </p>
      <ErrorNote error={streams.error} />
      {withParked?.length === 0 && <p>No stream has parked publishes.</p>}
      {withParked?.map((s) => (
        <article key={s.stream_id} aria-labelledby={`parked-${s.stream_id}`}>
          <h3 id={`parked-${s.stream_id}`}>
            <button type="button" onClick={() => open(s.stream_id)} aria-label={`Open stream ${s.stream_id}`}>
              {s.stream_id}
            </button>{" "}
            <span class="muted">
              {s.parked} parked; {s.status}
            </span>
          </h3>
          {/* Keyed by the count: a new skip on the stream loads its list again. */}
          <ParkedList key={`${s.stream_id}:${s.parked}`} token={token} streamId={s.stream_id} />
        </article>
      ))}
    </section>
  );
}
