/**
 * The one client of the admin API (`/admin/v1`). The operators' CLI, the test stacks, the ingest
 * gateway's own process test, the benchmark and `pnpm dev` all call it. It is a package of its own
 * rather than an entry of `@heliograph/cli` so that none of them depends on the CLI, and the
 * ingest gateway's tests can use it without a dependency cycle (the CLI's tests start the gateway).
 */
import { ErrorBody, type ErrorDetail } from "@heliograph/contracts";

/** The admin API refused or failed: its error body's code, message and details. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
  }
}

/** The admin API could not be reached at all. */
export class UnreachableError extends Error {
  override readonly name = "UnreachableError";
}

export type Fetch = typeof fetch;

export type AdminMethod = "GET" | "POST" | "PUT" | "DELETE";

/** Where the admin API is (the ingest gateway's admin listener) and its bearer token. */
export interface AdminTarget {
  url: string;
  token: string;
}

/** An answer of the admin API whatever its status; `body` is the parsed JSON (undefined when empty or not JSON). */
export interface AdminAnswer<T> {
  status: number;
  body: T;
  /** The raw body and status text, for messages about answers that are not JSON. */
  text: string;
  statusText: string;
}

/**
 * Calls `/admin/v1<path>` and returns the answer whatever its status (for callers that decide on
 * it, such as "create unless it exists"); throws UnreachableError when there is no answer.
 */
export async function adminRequest<T = unknown>(
  target: AdminTarget,
  method: AdminMethod,
  path: string,
  body?: unknown,
  fetchImpl: Fetch = fetch,
): Promise<AdminAnswer<T>> {
  const url = `${target.url}/admin/v1${path}`;
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method,
      headers: {
        authorization: `Bearer ${target.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new UnreachableError(
      `cannot reach the admin API at ${target.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
    );
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, body: json as T, text, statusText: res.statusText };
}

/** Calls `/admin/v1<path>` and returns the parsed JSON answer, or throws ApiError / UnreachableError. */
export async function adminCall<T = unknown>(
  target: AdminTarget,
  method: AdminMethod,
  path: string,
  body?: unknown,
  fetchImpl: Fetch = fetch,
): Promise<T> {
  const answer = await adminRequest<unknown>(target, method, path, body, fetchImpl);
  if (answer.status < 200 || answer.status >= 300) {
    const error = ErrorBody.safeParse(answer.body);
    if (error.success)
      throw new ApiError(answer.status, error.data.error.code, error.data.error.message, error.data.error.details);
    throw new ApiError(answer.status, `HTTP_${answer.status}`, answer.text.slice(0, 500) || answer.statusText);
  }
  return answer.body as T;
}

/** `adminCall` bound to one target: `const admin = adminClient(target); await admin("GET", "/halts")`. */
export function adminClient(target: AdminTarget, fetchImpl: Fetch = fetch) {
  return <T = unknown>(method: AdminMethod, path: string, body?: unknown): Promise<T> =>
    adminCall<T>(target, method, path, body, fetchImpl);
}
