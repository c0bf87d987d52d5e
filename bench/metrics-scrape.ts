/** Reads a few samples from a service's Prometheus `/metrics` text. */
export async function scrapeMetrics(baseUrl: string): Promise<Map<string, number>> {
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.length === 0) continue;
    const space = line.lastIndexOf(" ");
    const series = line.slice(0, space);
    const brace = series.indexOf("{");
    const name = brace === -1 ? series : series.slice(0, brace);
    // First series of a name wins (labels here are only the service's own).
    if (!values.has(name)) values.set(name, Number(line.slice(space + 1)));
    values.set(series, Number(line.slice(space + 1)));
  }
  return values;
}

export const RSS_METRIC = "heliograph_process_resident_memory_bytes";
export const LAG_P50_METRIC = "heliograph_nodejs_eventloop_lag_p50_seconds";
export const LAG_P99_METRIC = "heliograph_nodejs_eventloop_lag_p99_seconds";
export const LAG_MAX_METRIC = "heliograph_nodejs_eventloop_lag_max_seconds";
export const WAITERS_METRIC = "heliograph_stream_waiters";
/** Partition consumers the sequencer replaced. */
export const RESYNCS_METRIC = "heliograph_sequencer_resyncs_total";
/** The stream gateway's open Server-Sent Events streams (B9). */
export const SSE_CONNECTIONS_METRIC = "heliograph_sse_connections";
/** The webhook dispatcher's endpoints with a running worker (B10). */
export const WEBHOOK_HELD_METRIC = "heliograph_webhook_endpoints_held";
