import type { JetStreamRetention, PartitionsOverview, SequencerInstance } from "@heliograph/contracts";
import { ErrorNote, useAdminData, when } from "./widgets.js";

const REFRESH_MS = 2_000;

const retentionText = (r: JetStreamRetention) =>
  `${r.messages} messages, ${r.bytes} bytes (sequences ${r.first_seq}–${r.last_seq}); keeps ` +
  `${r.max_age_seconds > 0 ? `${r.max_age_seconds} s` : "any age"}, ${r.max_bytes >= 0 ? `${r.max_bytes} bytes` : "any size"}`;

export function SequencersPage({ token }: { token: string }) {
  const instances = useAdminData<SequencerInstance[]>(token, "/sequencers", REFRESH_MS);
  const overview = useAdminData<PartitionsOverview>(token, "/partitions", REFRESH_MS);
  return (
    <section aria-labelledby="sequencers-heading">
      <h2 id="sequencers-heading">Sequencers</h2>
      <ErrorNote error={instances.error ?? overview.error} />
      <table>
        <caption class="muted">Instances in the registry</caption>
        <thead>
          <tr>
            <th scope="col">Instance</th>
            <th scope="col">Last seen</th>
            <th scope="col">Partitions held</th>
          </tr>
        </thead>
        <tbody>
          {instances.data?.map((i) => (
            <tr key={i.id}>
              <th scope="row">
                <code>{i.id}</code>
              </th>
              <td>{when(i.last_seen)}</td>
              <td>{i.partitions.join(", ") || "none"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <table>
        <caption class="muted">INGEST partitions: lag is INGEST messages not yet numbered</caption>
        <thead>
          <tr>
            <th scope="col">Partition</th>
            <th scope="col">Owner</th>
            <th scope="col">Epoch</th>
            <th scope="col">Lease expires in</th>
            <th scope="col">Lag</th>
          </tr>
        </thead>
        <tbody>
          {overview.data?.partitions.map((p) => (
            <tr key={p.partition}>
              <th scope="row">{p.partition}</th>
              <td>{p.owner ? <code>{p.owner}</code> : <span class="error">none</span>}</td>
              <td>{p.epoch}</td>
              <td>{p.lease_expires_in_ms === undefined ? "—" : `${(p.lease_expires_in_ms / 1000).toFixed(1)} s`}</td>
              <td>{p.lag ?? "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {overview.data && (
        <dl>
          <dt>INGEST</dt>
          <dd>{retentionText(overview.data.ingest)}</dd>
          <dt>EVENTS (the record)</dt>
          <dd>{retentionText(overview.data.events)}</dd>
        </dl>
      )}
    </section>
  );
}
