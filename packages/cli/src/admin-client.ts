import { ErrorBody, type ErrorDetail } from "@heliograph/contracts";
import type { CliConfig } from "./config.js";

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

/** Calls `/admin/v1<path>` and returns the parsed JSON answer, or throws ApiError / UnreachableError. */
export async function adminCall(
  config: CliConfig,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  fetchImpl: Fetch = fetch,
): Promise<unknown> {
  const url = `${config.url}/admin/v1${path}`;
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method,
      headers: {
        authorization: `Bearer ${config.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new UnreachableError(
      `cannot reach the admin API at ${config.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
    );
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const error = ErrorBody.safeParse(json);
    if (error.success)
      throw new ApiError(res.status, error.data.error.code, error.data.error.message, error.data.error.details);
    throw new ApiError(res.status, `HTTP_${res.status}`, text.slice(0, 500) || res.statusText);
  }
  return json;
}
