import { z } from "zod";

const PositiveId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const Timestamp = z.iso.datetime({ offset: true });

/**
 * Body of `POST /api/v1/create_trading_signal`, as the resources document's Python example sends
 * it. The example's names (`ticker_symbol`, `portfolio_ratio_investment`) are canonical; the
 * field list's names (`symbol`, `percentage_of_buying_power`) are accepted as aliases.
 */
export const TradingSignalRequest = z
  .strictObject({
    algorithm_id: PositiveId,
    ticker_symbol: z.string().trim().min(1).max(32).optional(),
    symbol: z.string().trim().min(1).max(32).optional(),
    // "Only market orders are supported at this time": refused with its own code, not a schema error.
    order_type: z.string().min(1).max(32),
    portfolio_ratio_investment: z.number().gt(0).lte(1).optional(),
    percentage_of_buying_power: z.number().gt(0).lte(1).optional(),
    side: z.enum(["buy", "sell"]),
    // The field list says "day"; the example sends "gtc". Both are accepted.
    time_in_force: z.enum(["day", "gtc"]),
    /** Publisher's own time of the signal; defaults to when Heliograph received it. */
    timestamp: Timestamp.optional(),
  })
  .check(
    z.superRefine(
      (body, ctx) => {
        requireOneOf(ctx, body.ticker_symbol, body.symbol, "ticker_symbol", "symbol");
        requireOneOf(
          ctx,
          body.portfolio_ratio_investment,
          body.percentage_of_buying_power,
          "portfolio_ratio_investment",
          "percentage_of_buying_power",
        );
      },
      // Runs even when other fields failed, so one answer names every problem.
      // ...but only on an object: on null or a missing body the callback would throw (a 500).
      { when: (payload) => typeof payload.value === "object" && payload.value !== null },
    ),
  );
export type TradingSignalRequest = z.infer<typeof TradingSignalRequest>;

/** Marker in an issue's `params` for an alias given with a different value than its field. */
export const ALIAS_CONFLICT = "alias_conflict";

function requireOneOf(
  ctx: { addIssue: (issue: { code: "custom"; path: string[]; message: string; params?: object }) => void },
  canonical: unknown,
  alias: unknown,
  canonicalName: string,
  aliasName: string,
): void {
  if (canonical === undefined && alias === undefined) {
    ctx.addIssue({ code: "custom", path: [canonicalName], message: `${canonicalName} is required` });
  } else if (canonical !== undefined && alias !== undefined && canonical !== alias) {
    ctx.addIssue({
      code: "custom",
      path: [aliasName],
      message: `${aliasName} is an alias of ${canonicalName} and was given a different value`,
      params: { [ALIAS_CONFLICT]: true },
    });
  }
}

export const SUPPORTED_ORDER_TYPES = ["market"] as const;

/** A trading signal in canonical form: what the event carries. */
export const TradingSignal = z.object({
  algorithm_id: PositiveId,
  ticker_symbol: z.string(),
  order_type: z.enum(SUPPORTED_ORDER_TYPES),
  portfolio_ratio_investment: z.number(),
  side: z.enum(["buy", "sell"]),
  time_in_force: z.enum(["day", "gtc"]),
});
export type TradingSignal = z.infer<typeof TradingSignal>;

/** Canonical form of a validated request; aliases resolved. */
export function canonicalSignal(body: TradingSignalRequest): TradingSignal {
  return {
    algorithm_id: body.algorithm_id,
    ticker_symbol: (body.ticker_symbol ?? body.symbol) as string,
    order_type: body.order_type as "market",
    portfolio_ratio_investment: (body.portfolio_ratio_investment ?? body.percentage_of_buying_power) as number,
    side: body.side,
    time_in_force: body.time_in_force,
  };
}
