import type {
  Algorithm,
  IdeaChannel,
  ParkedPublish,
  Publisher,
  Resource,
  StreamEvent,
  StreamHalt,
  Subscriber,
} from "@heliograph/contracts";

/** Columns padded to their widest cell; long cells are cut to `max` characters. */
export function table(headers: string[], rows: string[][], max = 60): string {
  const cut = (cell: string) => (cell.length > max ? `${cell.slice(0, max - 1)}…` : cell);
  const cells = [headers, ...rows.map((row) => row.map((c) => cut(c.replaceAll(/\s+/g, " "))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function haltsTable(halts: StreamHalt[]): string {
  if (halts.length === 0) return "No stream is halted.";
  return table(
    ["STREAM", "SINCE", "REASON", "OFFENDING INGEST ID", "HELD"],
    halts.map((h) => [h.stream_id, h.since, h.reason, h.ingest_id, String(h.held)]),
  );
}

export function haltDetails(halt: StreamHalt): string {
  return [
    `stream:     ${halt.stream_id}`,
    `since:      ${halt.since}`,
    `reason:     ${halt.reason}`,
    `offending:  ${halt.ingest_id}`,
    `held:       ${halt.held} (the offending publish included)`,
    `event:`,
    JSON.stringify(halt.event, null, 2),
    "",
    `Resolve with: heliograph halt skip ${halt.stream_id} --ingest-id ${halt.ingest_id}`,
    `          or: heliograph halt retry ${halt.stream_id} --ingest-id ${halt.ingest_id} [--data fixed.json]`,
  ].join("\n");
}

export function parkedTable(streamId: string, parked: ParkedPublish[]): string {
  if (parked.length === 0) return `Nothing is parked on ${streamId}.`;
  return table(
    ["INGEST ID", "PARKED AT", "EVENT TYPE", "ID", "REASON"],
    parked.map((p) => [p.ingest_id, p.parked_at, p.event.event_type, String(p.event.data.id ?? ""), p.reason]),
  );
}

export function streamDetails(info: { stream_id: string; head: number; status: string; held?: number }): string {
  return [
    `stream:  ${info.stream_id}`,
    `head:    ${info.head}${info.head < 0 ? " (no events)" : ""}`,
    `status:  ${info.status}`,
    `held:    ${info.held ?? 0}`,
  ].join("\n");
}

export function publishersTable(publishers: Publisher[]): string {
  if (publishers.length === 0) return "No publishers.";
  return table(
    ["ID", "NAME", "STATUS", "API KEY", "CREATED"],
    publishers.map((p) => [p.id, p.name, p.status, p.api_key, p.created_at]),
  );
}

export function subscribersTable(subscribers: Subscriber[]): string {
  if (subscribers.length === 0) return "No subscribers.";
  return table(
    ["ID", "NAME", "STATUS", "CREATED", "STREAMS"],
    subscribers.map((s) => [s.id, s.name, s.status, s.created_at, s.streams.join(",") || "-"]),
  );
}

export function credentialDetails(record: Publisher | Subscriber): string {
  return [
    `id:         ${record.id}`,
    `name:       ${record.name}`,
    `status:     ${record.status}`,
    "api_key" in record ? `api_key:    ${record.api_key}` : `streams:    ${record.streams.join(", ") || "-"}`,
    `created_at: ${record.created_at}`,
  ].join("\n");
}

export function resourcesTable(resources: Resource[]): string {
  if (resources.length === 0) return "No resources.";
  return table(
    ["ID", "PUBLISHER", "TITLE", "STREAM", "CREATED"],
    resources.map((r) => [String(r.id), r.publisher_id, r.title, r.stream_id, r.created_at]),
  );
}

export function algorithmsTable(algorithms: Algorithm[]): string {
  if (algorithms.length === 0) return "No algorithms.";
  return table(
    ["ID", "PUBLISHER", "NAME", "STREAM", "CREATED"],
    algorithms.map((a) => [String(a.id), a.publisher_id, a.name, a.stream_id, a.created_at]),
  );
}

export function channelsTable(channels: IdeaChannel[]): string {
  if (channels.length === 0) return "No idea channels.";
  return table(
    ["ID", "PUBLISHER", "TITLE", "STREAM", "CREATED"],
    channels.map((c) => [c.id, c.publisher_id, c.title, c.stream_id, c.created_at]),
  );
}

/** A record's fields one per line (`key: value`), nested values as JSON. */
export function fieldsOf(record: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(record).map((k) => k.length)) + 2;
  return Object.entries(record)
    .map(([k, v]) => `${`${k}:`.padEnd(width)}${typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}`)
    .join("\n");
}

/**
 * One event on one line: number, type, when it was numbered, its id, then what a reader looks
 * for first (a signal's order, a resource's values, an idea's state and instruments).
 */
export function eventLine(event: StreamEvent): string {
  const { id, timestamp: _timestamp, published_at, ...rest } = event.data;
  return `#${event.event_number}  ${published_at}  ${event.event_type}  ${id}  ${summary(event.event_type, rest)}`;
}

function summary(type: StreamEvent["event_type"], data: Record<string, unknown>): string {
  const text = (v: unknown) => (v === undefined || v === null ? "" : String(v));
  if (type === "TradingSignalCreated") {
    const ratio = data.portfolio_ratio_investment ?? data.percentage_of_buying_power;
    return [data.side, data.ticker_symbol ?? data.symbol, ratio, data.order_type, data.time_in_force]
      .map(text)
      .filter(Boolean)
      .join(" ");
  }
  if (type === "ResourcePublished") return oneLine(data.resource_dict ?? data);
  const idea = (data.idea ?? {}) as { state?: unknown; conviction?: unknown; recommendations?: unknown };
  const instruments = Array.isArray(idea.recommendations)
    ? idea.recommendations.map((r: { direction?: unknown; instrument?: { ric?: unknown } }) =>
        [r.direction, r.instrument?.ric].map(text).filter(Boolean).join(" "),
      )
    : [];
  return [text(idea.state), text(idea.conviction), instruments.join(", "), text(data.comment)]
    .filter(Boolean)
    .join("  ");
}

function oneLine(value: unknown, max = 160): string {
  const json = JSON.stringify(value) ?? "";
  return json.length > max ? `${json.slice(0, max - 1)}…` : json;
}
