// Test support only: reads a text/event-stream response over fetch, keeping every message and
// comment as the stream gateway sent them, in order.

/** One SSE message: its fields as sent (`id`, `event`, `data`, `retry`), or a comment line. */
export type SseFrame =
  | { kind: "message"; id?: string; event?: string; data?: string; retry?: string }
  | { kind: "comment"; text: string };

export interface SseReader {
  status: number;
  headers: Headers;
  /** The body when the answer was not an event stream (an error body). */
  errorBody?: string;
  frames: SseFrame[];
  /** The event messages only (those with an id). */
  events(): { id: number; event: string; data: string }[];
  /** Resolves when the server ended the stream (or it failed). */
  ended: Promise<void>;
  isEnded(): boolean;
  close(): void;
}

function parseFrame(block: string): SseFrame[] {
  const frames: SseFrame[] = [];
  const message: Record<string, string> = {};
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) frames.push({ kind: "comment", text: line.slice(1).trim() });
    else if (line !== "") {
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      message[field] = field === "data" && message.data !== undefined ? `${message.data}\n${value}` : value;
    }
  }
  if (Object.keys(message).length > 0) frames.push({ kind: "message", ...message });
  return frames;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal: controller.signal });
  const frames: SseFrame[] = [];
  let ended = false;
  const reader: SseReader = {
    status: res.status,
    headers: res.headers,
    frames,
    events: () =>
      frames.flatMap((f) =>
        f.kind === "message" && f.id !== undefined
          ? [{ id: Number(f.id), event: f.event ?? "message", data: f.data ?? "" }]
          : [],
      ),
    ended: Promise.resolve(),
    isEnded: () => ended,
    close: () => controller.abort(),
  };
  if (!res.headers.get("content-type")?.startsWith("text/event-stream")) {
    reader.errorBody = await res.text();
    ended = true;
    return reader;
  }
  const body = res.body;
  if (!body) throw new Error("an event stream without a body");
  reader.ended = (async () => {
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for await (const chunk of body) {
        buffered += decoder.decode(chunk as Uint8Array, { stream: true });
        for (let end = buffered.indexOf("\n\n"); end >= 0; end = buffered.indexOf("\n\n")) {
          frames.push(...parseFrame(buffered.slice(0, end)));
          buffered = buffered.slice(end + 2);
        }
      }
    } catch {
      // Closed by the test (abort) or reset by the server: ended either way.
    } finally {
      ended = true;
    }
  })();
  return reader;
}
