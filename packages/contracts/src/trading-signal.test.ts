import { describe, expect, it } from "vitest";
import { DOCUMENT_TRADING_SIGNAL_BODY } from "./document-fixtures.js";
import { ALIAS_CONFLICT, canonicalSignal, TradingSignalRequest } from "./trading-signal.js";

describe("TradingSignalRequest", () => {
  it("accepts the document's example exactly as written", () => {
    const parsed = TradingSignalRequest.parse(DOCUMENT_TRADING_SIGNAL_BODY);
    expect(canonicalSignal(parsed)).toEqual(DOCUMENT_TRADING_SIGNAL_BODY);
  });

  it("accepts the field list's names as aliases", () => {
    const { ticker_symbol, portfolio_ratio_investment, ...rest } = DOCUMENT_TRADING_SIGNAL_BODY;
    const parsed = TradingSignalRequest.parse({
      ...rest,
      symbol: ticker_symbol,
      percentage_of_buying_power: portfolio_ratio_investment,
    });
    expect(canonicalSignal(parsed)).toEqual(DOCUMENT_TRADING_SIGNAL_BODY);
  });

  it("accepts both day and gtc", () => {
    expect(TradingSignalRequest.safeParse({ ...DOCUMENT_TRADING_SIGNAL_BODY, time_in_force: "day" }).success).toBe(
      true,
    );
    expect(TradingSignalRequest.safeParse({ ...DOCUMENT_TRADING_SIGNAL_BODY, time_in_force: "ioc" }).success).toBe(
      false,
    );
  });

  it("refuses a field and its alias with different values, naming the alias", () => {
    const result = TradingSignalRequest.safeParse({ ...DOCUMENT_TRADING_SIGNAL_BODY, symbol: "MSFT" });
    expect(result.success).toBe(false);
    const issue = result.error?.issues[0];
    expect(issue?.path).toEqual(["symbol"]);
    expect((issue as { params?: Record<string, unknown> }).params?.[ALIAS_CONFLICT]).toBe(true);
  });

  it("accepts a field and its alias with the same value", () => {
    expect(TradingSignalRequest.safeParse({ ...DOCUMENT_TRADING_SIGNAL_BODY, symbol: "AAPL" }).success).toBe(true);
  });

  it("names each missing or mistyped field", () => {
    const result = TradingSignalRequest.safeParse({
      algorithm_id: "1",
      side: "hold",
      order_type: "market",
      time_in_force: "day",
    });
    const paths = result.error?.issues.map((i) => i.path.join(".")).sort();
    expect(paths).toEqual(["algorithm_id", "portfolio_ratio_investment", "side", "ticker_symbol"]);
  });

  it("refuses unknown fields so a typo in a money order fails loudly", () => {
    const result = TradingSignalRequest.safeParse({ ...DOCUMENT_TRADING_SIGNAL_BODY, quantity: 5 });
    expect(result.success).toBe(false);
  });

  it("refuses a ratio outside (0, 1]", () => {
    for (const ratio of [0, -0.1, 1.5, Number.NaN]) {
      expect(
        TradingSignalRequest.safeParse({ ...DOCUMENT_TRADING_SIGNAL_BODY, portfolio_ratio_investment: ratio }).success,
      ).toBe(false);
    }
  });
});
