import type { ResolveHaltAnswer, StreamHalt } from "@heliograph/contracts";
import { useState } from "preact/hooks";
import { ConfirmButton, ErrorNote, Json, useAdminAction, useAdminData, when } from "./widgets.js";

/** One halt: the offending event and the two ways out, each confirmed first. */
export function HaltCard(props: { token: string; halt: StreamHalt; onResolved: (answer: ResolveHaltAnswer) => void }) {
  const { token, halt } = props;
  const action = useAdminAction(token);
  const [replacement, setReplacement] = useState(JSON.stringify(halt.event.data, null, 2));
  const [done, setDone] = useState<ResolveHaltAnswer | undefined>(undefined);
  const dataId = `replacement-${halt.stream_id}`;
  const resolve = async (body: { action: "skip" | "retry"; data?: Record<string, unknown> }) => {
    const answer = await action.run<ResolveHaltAnswer>("POST", `/streams/${halt.stream_id}/resolve`, {
      ...body,
      ingest_id: halt.ingest_id,
    });
    if (answer) {
      setDone(answer);
      props.onResolved(answer);
    }
  };
  let parsed: Record<string, unknown> | undefined;
  let parseError: string | undefined;
  try {
    parsed = JSON.parse(replacement) as Record<string, unknown>;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("must be an object");
  } catch (err) {
    parsed = undefined;
    parseError = (err as Error).message;
  }
  return (
    <article aria-labelledby={`halt-${halt.stream_id}`}>
      <h3 id={`halt-${halt.stream_id}`}>
        <code>{halt.stream_id}</code> <span class="status-halted">halted</span>
      </h3>
      <p>
        {halt.reason} — since {when(halt.since)}; {halt.held} publish{halt.held === 1 ? "" : "es"} held (the offending
        one included). Ingest id <code>{halt.ingest_id}</code>.
      </p>
      <h4>Offending event: {halt.event.event_type}</h4>
      <Json value={halt.event.data} />
      {done ? (
        <p role="status" class="ok">
          Resolved: {done.action} of <code>{done.ingest_id}</code>. The sequencer resumes the stream.
        </p>
      ) : (
        <>
          <div class="row">
            <ConfirmButton
              label="Skip"
              ariaLabel={`Skip the offending event of ${halt.stream_id}`}
              title={`Skip the offending event of ${halt.stream_id}?`}
              confirmLabel="Skip it"
              danger
              disabled={action.busy}
              onConfirm={() => resolve({ action: "skip" })}
            >
              <p>
                It is parked (kept in the stream's parked list, never numbered) and the {halt.held - 1} publishes behind
                it are numbered.
              </p>
            </ConfirmButton>
          </div>
          <label for={dataId} style="display:block">
            Replacement data (JSON) for a retry of {halt.stream_id}
          </label>
          <textarea id={dataId} value={replacement} onInput={(e) => setReplacement(e.currentTarget.value)} />
          {parseError && <p class="error">Not a JSON object: {parseError}</p>}
          <ConfirmButton
            label="Retry with this data"
            ariaLabel={`Retry the offending event of ${halt.stream_id} with the replacement data`}
            title={`Retry the offending event of ${halt.stream_id}?`}
            confirmLabel="Retry it"
            disabled={action.busy || parsed === undefined}
            onConfirm={() => resolve({ action: "retry", ...(parsed ? { data: parsed } : {}) })}
          >
            <p>
              It is numbered again with the data above; if it still breaks the stream's rules, the stream halts again.
            </p>
          </ConfirmButton>
        </>
      )}
      <ErrorNote error={action.error} />
    </article>
  );
}

export function HaltsPage({ token }: { token: string }) {
  const { data, error, reload } = useAdminData<StreamHalt[]>(token, "/halts", 5_000);
  const [resolved, setResolved] = useState<ResolveHaltAnswer | undefined>(undefined);
  return (
    <section aria-labelledby="halts-heading">
      <h2 id="halts-heading">Halts</h2>
      <button type="button" onClick={reload}>
        Refresh
      </button>
      {resolved && (
        <p role="status" class="ok">
          Resolved <code>{resolved.stream_id}</code>: {resolved.action} of <code>{resolved.ingest_id}</code>.
        </p>
      )}
      <ErrorNote error={error} />
      {data?.length === 0 && <p>No stream is halted.</p>}
      {data?.map((halt) => (
        <HaltCard
          key={`${halt.stream_id}:${halt.ingest_id}`}
          token={token}
          halt={halt}
          onResolved={(answer) => {
            setResolved(answer);
            reload();
          }}
        />
      ))}
    </section>
  );
}
