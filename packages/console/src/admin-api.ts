/**
 * The console's one door to Heliograph: the admin API on the origin that served the page, with the
 * operator's token as `Authorization: Bearer` on every call. The token lives in sessionStorage (this
 * tab only, gone when it closes), never in a URL.
 */
const TOKEN_KEY = "heliograph-admin-token";

export const storedToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);
export const storeToken = (token: string | null): void =>
  token === null ? sessionStorage.removeItem(TOKEN_KEY) : sessionStorage.setItem(TOKEN_KEY, token);

/** An error answer of the admin API (`{"error":{"code","message","details"}}`) or no answer at all. */
export class AdminError extends Error {
  override readonly name = "AdminError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

export type Method = "GET" | "POST" | "PUT" | "DELETE";

const base = "/admin/v1";

function headers(token: string, json: boolean): Record<string, string> {
  return { authorization: `Bearer ${token}`, ...(json ? { "content-type": "application/json" } : {}) };
}

export async function adminCall<T>(token: string, method: Method, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: headers(token, body !== undefined),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new AdminError(0, "UNREACHABLE", `The admin API did not answer: ${(err as Error).message}`);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string; details?: [] } } | undefined)?.error;
    throw new AdminError(
      res.status,
      error?.code ?? `HTTP_${res.status}`,
      error?.message ?? res.statusText,
      error?.details,
    );
  }
  return json as T;
}

/** One message of a live tail: an event (its number, type and JSON text) or the stream's halt. */
export type TailMessage =
  | { kind: "event"; eventNumber: number; eventType: string; text: string }
  | { kind: "halted"; head: number };

/**
 * Follows `GET /admin/v1/streams/{id}/tail` by reading the response body as it comes
 * (text/event-stream). EventSource cannot send the bearer header, and a token in the URL would
 * end up in logs.
 */
export async function followTail(
  token: string,
  streamId: string,
  onMessage: (message: TailMessage) => void,
  signal: AbortSignal,
  onOpen?: () => void,
): Promise<void> {
  const res = await fetch(`${base}/streams/${encodeURIComponent(streamId)}/tail`, {
    headers: headers(token, false),
    signal,
  });
  if (!res.ok || !res.body) {
    const error = ((await res.json().catch(() => undefined)) as { error?: { code: string; message: string } })?.error;
    throw new AdminError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? res.statusText);
  }
  onOpen?.();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const fields: Record<string, string> = {};
      for (const line of buffer.slice(0, end).split("\n")) {
        const colon = line.indexOf(":");
        // Lines starting with ":" are comments (heartbeats).
        if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, "");
      }
      buffer = buffer.slice(end + 2);
      if (fields.event === "halted" && fields.data) {
        onMessage({ kind: "halted", head: (JSON.parse(fields.data) as { head: number }).head });
      } else if (fields.id !== undefined && fields.data !== undefined) {
        onMessage({
          kind: "event",
          eventNumber: Number(fields.id),
          eventType: fields.event ?? "message",
          text: fields.data,
        });
      }
    }
  }
}
