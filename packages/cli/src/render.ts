import type { ParkedPublish, Publisher, StreamHalt, Subscriber } from "@heliograph/contracts";

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
