import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { AdminError, adminCall, type Method } from "./admin-api.js";

/** What a page loads from the admin API, reloaded on demand or every `refreshMs`. */
export function useAdminData<T>(token: string, path: string | null, refreshMs?: number) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<AdminError | undefined>(undefined);
  const [version, setVersion] = useState(0);
  const reload = useCallback(() => setVersion((v) => v + 1), []);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    const load = () =>
      adminCall<T>(token, "GET", path).then(
        (value) => {
          if (!live) return;
          setData(value);
          setError(undefined);
        },
        (err: AdminError) => live && setError(err),
      );
    void load();
    const timer = refreshMs ? setInterval(load, refreshMs) : undefined;
    return () => {
      live = false;
      if (timer) clearInterval(timer);
    };
  }, [token, path, refreshMs, version]);
  return { data, error, reload };
}

/** Runs an admin call from a button or form; remembers its error and its answer. */
export function useAdminAction(token: string, after?: () => void) {
  const [error, setError] = useState<AdminError | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const run = useCallback(
    async <T,>(method: Method, path: string, body?: unknown): Promise<T | undefined> => {
      setBusy(true);
      setError(undefined);
      try {
        const answer = await adminCall<T>(token, method, path, body);
        after?.();
        return answer;
      } catch (err) {
        setError(err instanceof AdminError ? err : new AdminError(0, "FAILED", String(err)));
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [token, after],
  );
  return { run, error, busy, setError };
}

export function ErrorNote({ error }: { error: AdminError | undefined }) {
  if (!error) return null;
  return (
    <p role="alert" class="error">
      {error.code}: {error.message}
      {error.details.length > 0 && ` (${error.details.map((d) => `${d.path}: ${d.message}`).join("; ")})`}
    </p>
  );
}

/**
 * A button that asks first, in a native modal <dialog> (focus moves into it and stays there until it
 * closes; Escape cancels), then runs `onConfirm`.
 */
export function ConfirmButton(props: {
  label: string;
  /** The accessible name when the visible label needs context (e.g. which publisher). */
  ariaLabel?: string;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  disabled?: boolean;
  onConfirm: () => void | Promise<void>;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const headingId = useRef(`confirm-${Math.random().toString(36).slice(2)}`).current;
  return (
    <>
      <button
        type="button"
        class={props.danger ? "danger" : undefined}
        aria-label={props.ariaLabel}
        disabled={props.disabled}
        onClick={() => dialog.current?.showModal()}
      >
        {props.label}
      </button>
      <dialog ref={dialog} aria-labelledby={headingId}>
        <h2 id={headingId}>{props.title}</h2>
        <div>{props.children}</div>
        <form method="dialog" class="row">
          <button
            type="button"
            class={props.danger ? "danger" : undefined}
            onClick={async () => {
              dialog.current?.close();
              await props.onConfirm();
            }}
          >
            {props.confirmLabel}
          </button>
          <button type="submit" autofocus>
            Cancel
          </button>
        </form>
      </dialog>
    </>
  );
}

/** A credential answered once (a new secret or token): shown until dismissed, never again. */
export function ShownOnce({
  title,
  values,
  onDismiss,
}: {
  title: string;
  values: [string, string][];
  onDismiss: () => void;
}) {
  return (
    <div class="secret" role="status" aria-label={title}>
      <p>
        <strong>{title}</strong> — shown once; copy it now.
      </p>
      <dl>
        {values.map(([name, value]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>
              <code data-credential={name}>{value}</code>
            </dd>
          </div>
        ))}
      </dl>
      <button type="button" onClick={onDismiss}>
        Done
      </button>
    </div>
  );
}

export const Json = ({ value }: { value: unknown }) => <pre>{JSON.stringify(value, null, 2)}</pre>;

export const when = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString() : "");
