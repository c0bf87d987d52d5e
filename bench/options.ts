/** Command line of `pnpm bench`. */
export const BENCH_IDS = [
  "R1",
  "R2",
  "R3",
  "R4",
  "R5",
  "B5",
  "B5x2",
  "B4",
  "B1",
  "B2",
  "N2",
  "B3",
  "N3",
  "B3x2",
  "B9",
  "B10",
  "B6",
  "B7",
  "B8",
] as const;
export type BenchId = (typeof BENCH_IDS)[number];

export interface Sizes {
  /** R1: messages published. */
  r1Messages: number;
  /** R2: messages numbered. */
  r2Messages: number;
  /** R3 and B1: seconds of load. */
  httpSeconds: number;
  /** R4, B3 and N3: long polls held; B9: event streams open. */
  heldPolls: number;
  /**
   * B3x2: N, of the 2 × N long polls held by one gateway and then by two. Not heldPolls in the full
   * run: through the front each poll holds two sockets there, so 2 × 10,000 polls would need 40,000
   * descriptors in that one process (the hard limit here is 20,000).
   */
  scaleOutPolls: number;
  /** R5: entries in the log read back. */
  r5Entries: number;
  /** B5 backlog and so B4's stream; B5x2 splits as many over two streams. */
  backlog: number;
  /** B2 and N2: seconds at `latencyRate` events/s. */
  latencySeconds: number;
  latencyRate: number;
  /** B1: streams the signals go to (one algorithm each). */
  ingestStreams: number;
  ingestConnections: number;
  /** B6: events over how many streams (each with a 1,000-event window). */
  b6Events: number;
  b6Streams: number;
  /** B8: events of the stream read back from EVENTS. */
  b8Events: number;
  /** B7: kills of the owning sequencer per repetition. */
  failoverKills: number;
  /** B10: webhook endpoints, each on its own stream. */
  webhookEndpoints: number;
  /** B10: seconds at `webhookRate` events/s in total, spread over the endpoints' streams. */
  webhookSeconds: number;
  webhookRate: number;
  /** B10: events of the burst published as fast as the ingest gateway takes them. */
  webhookBurst: number;
}

export const FULL: Sizes = {
  r1Messages: 100_000,
  r2Messages: 100_000,
  httpSeconds: 10,
  heldPolls: 10_000,
  scaleOutPolls: 4_000,
  r5Entries: 100_000,
  backlog: 100_000,
  latencySeconds: 20,
  latencyRate: 1_000,
  ingestStreams: 8,
  ingestConnections: 64,
  b6Events: 200_000,
  b6Streams: 100,
  b8Events: 100_000,
  failoverKills: 5,
  webhookEndpoints: 10,
  webhookSeconds: 20,
  webhookRate: 1_000,
  webhookBurst: 10_000,
};

export const QUICK: Sizes = {
  r1Messages: 20_000,
  r2Messages: 20_000,
  httpSeconds: 3,
  heldPolls: 2_000,
  scaleOutPolls: 1_000,
  r5Entries: 20_000,
  backlog: 20_000,
  latencySeconds: 4,
  latencyRate: 1_000,
  ingestStreams: 8,
  ingestConnections: 64,
  b6Events: 40_000,
  b6Streams: 20,
  b8Events: 20_000,
  failoverKills: 2,
  webhookEndpoints: 10,
  webhookSeconds: 4,
  webhookRate: 1_000,
  webhookBurst: 2_000,
};

export interface SoakOptions {
  durationMs: number;
  ratePerSecond: number;
  streams: number;
  followers: number;
}

export interface Options {
  reps: number;
  only: Set<BenchId>;
  quick: boolean;
  sizes: Sizes;
  soak: SoakOptions | undefined;
}

const USAGE = `pnpm bench [--reps N] [--only B1,R1,...] [--quick] [--soak 10m [--soak-rate 200] [--soak-streams 100] [--soak-followers 1000]]`;

/** `10m`, `90s`, `1h`, `500ms` or plain seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`not a duration: ${text} (use e.g. 10m, 90s)`);
  const n = Number(match[1]);
  const unit = match[2] ?? "s";
  return n * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[unit as "ms" | "s" | "m" | "h"];
}

export function parseOptions(argv: string[]): Options {
  let reps = 3;
  let only: Set<BenchId> = new Set(BENCH_IDS);
  let quick = false;
  let soakMs: number | undefined;
  const soak = { ratePerSecond: 200, streams: 100, followers: 1_000 };
  const positiveInt = (flag: string, value: string | undefined): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer\n${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case "--":
        break;
      case "--reps":
        reps = positiveInt("--reps", value());
        break;
      case "--only": {
        const asked = (value() ?? "")
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        // Any case: `b3x2` and `B3X2` name B3x2.
        const idOf = (text: string) => BENCH_IDS.find((id) => id.toUpperCase() === text.toUpperCase());
        const unknown = asked.filter((text) => idOf(text) === undefined);
        if (asked.length === 0 || unknown.length > 0)
          throw new Error(`--only takes a list of ${BENCH_IDS.join(",")}; unknown: ${unknown.join(",")}`);
        only = new Set(asked.map((text) => idOf(text)!));
        break;
      }
      case "--quick":
        quick = true;
        break;
      case "--soak":
        soakMs = parseDuration(value() ?? "");
        break;
      case "--soak-rate":
        soak.ratePerSecond = positiveInt("--soak-rate", value());
        break;
      case "--soak-streams":
        soak.streams = positiveInt("--soak-streams", value());
        break;
      case "--soak-followers":
        soak.followers = positiveInt("--soak-followers", value());
        break;
      case "--help":
      case "-h":
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${arg}\n${USAGE}`);
    }
  }
  return {
    reps,
    only,
    quick,
    sizes: quick ? QUICK : FULL,
    soak: soakMs === undefined ? undefined : { durationMs: soakMs, ...soak },
  };
}
