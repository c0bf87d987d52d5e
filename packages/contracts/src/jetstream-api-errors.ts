/**
 * JetStream API error codes (the `err_code` of an API answer) that Heliograph acts on and
 * @nats-io/jetstream's JetStreamApiCodes leaves out. Here because the services' streams
 * (platform's ensureStreams) and the control bucket (store) are both created at start, by
 * packages that share only contracts, and must wait out the same failures.
 */
export const JetStreamErrorCodes = {
  /** JSStreamNameExistErr ("stream name already in use"). */
  StreamNameInUse: 10058,
  /**
   * JSStreamSubjectOverlapErr ("subjects overlap with an existing stream"): what nats-server 2.9
   * may answer while another create of the same stream is being applied.
   */
  StreamSubjectOverlap: 10065,
  /**
   * JSClusterNoPeersErrF ("no suitable peers for placement"): a forming cluster elects its meta
   * leader before every peer has reported in, and an R3 stream cannot be placed until they have.
   */
  ClusterNoPeers: 10005,
} as const;

/** A JetStream API refusal: the answer's status and err_code (JetStreamApiError's `status` and `code`). */
export interface JetStreamRefusal {
  readonly status: number;
  readonly code: number;
}

/**
 * Whether a JetStream request that failed is worth another try while the servers come up: the
 * server's own failure (5xx: "JetStream system temporarily unavailable"), no suitable peers yet (a
 * 400, but a cluster still forming; more replicas than nodes still fails, with this message, once
 * the caller's deadline passes), a code in `alsoTransient`, or no answer at all (`refusal`
 * undefined: a timeout, or no responders, which the client reports as "jetstream is not enabled").
 * Any other refusal is of the request itself (a bad configuration): retrying cannot help.
 */
export function isTransientJetStreamFailure(
  err: unknown,
  refusal: JetStreamRefusal | undefined,
  alsoTransient: readonly number[] = [],
): boolean {
  if (refusal) {
    return (
      refusal.status >= 500 ||
      refusal.code === JetStreamErrorCodes.ClusterNoPeers ||
      alsoTransient.includes(refusal.code)
    );
  }
  const e = err as { name?: string; message?: string };
  return /timeout|timed out|not enabled|no responders|disconnect|reconnect/i.test(`${e?.name} ${e?.message}`);
}
