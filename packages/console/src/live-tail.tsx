import { useEffect, useState } from "preact/hooks";
import { AdminError, followTail, type TailMessage } from "./admin-api.js";
import { ErrorNote } from "./widgets.js";

/** At most this many lines stay on the page; older ones drop off the top. */
const KEPT = 500;

/** The events of one stream as they come: the last ones first, then each new one. */
export function TailView({ token, streamId }: { token: string; streamId: string }) {
  const [lines, setLines] = useState<TailMessage[]>([]);
  const [error, setError] = useState<AdminError | undefined>(undefined);
  const [state, setState] = useState<"connecting" | "live" | "ended">("connecting");
  useEffect(() => {
    const stop = new AbortController();
    setLines([]);
    setError(undefined);
    setState("connecting");
    followTail(
      token,
      streamId,
      (message) => setLines((old) => [...old, message].slice(-KEPT)),
      stop.signal,
      () => setState("live"),
    ).then(
      () => !stop.signal.aborted && setState("ended"),
      (err: unknown) => {
        if (stop.signal.aborted) return;
        setState("ended");
        setError(err instanceof AdminError ? err : new AdminError(0, "TAIL_FAILED", String(err)));
      },
    );
    return () => stop.abort();
  }, [token, streamId]);
  return (
    <div>
      <p class="muted" role="status">
        Tail of <code>{streamId}</code>: {state}
      </p>
      <ErrorNote error={error} />
      <ol class="tail" aria-label={`Events of ${streamId}`} aria-live="polite">
        {lines.map((line) =>
          line.kind === "halted" ? (
            <li key={`halt-${line.head}`} class="status-halted">
              halted after event {line.head}
            </li>
          ) : (
            <li key={line.eventNumber} data-event-number={line.eventNumber}>
              #{line.eventNumber} {line.eventType} {line.text}
            </li>
          ),
        )}
      </ol>
    </div>
  );
}

export function LiveTailPage({ token, initial }: { token: string; initial?: string }) {
  const [input, setInput] = useState(initial ?? "");
  const [streamId, setStreamId] = useState<string | undefined>(initial);
  return (
    <section aria-labelledby="tail-heading">
      <h2 id="tail-heading">Live tail</h2>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          setStreamId(input.trim() || undefined);
        }}
      >
        <label>
          Stream id
          <input
            name="stream"
            value={input}
            required
            pattern="[a-z0-9][a-z0-9_\-]{0,63}"
            onInput={(e) => setInput(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Follow</button>
        {streamId && (
          <button type="button" onClick={() => setStreamId(undefined)}>
            Stop
          </button>
        )}
      </form>
      {streamId && <TailView key={streamId} token={token} streamId={streamId} />}
    </section>
  );
}
