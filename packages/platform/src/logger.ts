import { type Logger, pino } from "pino";

export type { Logger } from "pino";

/** Header and field paths that must never reach a log line. */
export const REDACTED_PATHS = [
  "req.headers.authorization",
  'req.headers["api-secret"]',
  'req.headers["api-key"]',
  "headers.authorization",
  'headers["api-secret"]',
  "api_secret",
  "*.api_secret",
  "token",
  "*.token",
  "secret",
  "*.secret",
  "adminToken",
  "*.adminToken",
  "NATS_PASSWORD",
  "*.NATS_PASSWORD",
  "password",
  "*.password",
  "pass",
  "*.pass",
];

export interface LoggerOptions {
  name: string;
  level?: string;
  /** Human-readable lines for local development; JSON otherwise. */
  pretty?: boolean;
  /** Where lines go; stdout by default (tests capture them). */
  destination?: NodeJS.WritableStream;
}

/** The one logger of a process; components take `log.child({ component })`. */
export function createLogger(options: LoggerOptions): Logger {
  const base = {
    name: options.name,
    level: options.level ?? "info",
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
  };
  if (options.pretty) {
    return pino({
      ...base,
      transport: {
        target: "pino-pretty",
        options: { colorize: true, translateTime: "HH:MM:ss.l", singleLine: true, ignore: "pid,hostname" },
      },
    });
  }
  return options.destination ? pino(base, options.destination as pino.DestinationStream) : pino(base);
}
