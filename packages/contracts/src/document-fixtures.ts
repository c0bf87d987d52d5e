/**
 * The resources document's example payloads, exactly as its Python code sends them. Shared by
 * unit, integration and end-to-end tests and by the dev stack's printed examples.
 */
export const DOCUMENT_RESOURCE_1 = {
  id: 1,
  title: "Return stocks that are on fibonacci retracement channels in realtime.",
  key_value_type_pairs: { Symbol: "STRING", Market: "STRING", "Retracement channels": "ARRAY" },
} as const;

export const DOCUMENT_RESOURCE_DICT = {
  Symbol: "LGND",
  Market: "U.S. Nasdaq",
  "Retracement channels": {
    "90": {
      current_price: 66.51000213623047,
      fibonacci_levels: [
        82.04000091552734, 75.13517967224121, 70.86355297088623, 67.41114234924316, 63.958731727600096,
        59.04343524932861, 52.782283782958984,
      ],
      trend: "bullish",
    },
  },
};

/** `upload_resource(1, data_dict)` */
export const DOCUMENT_UPLOAD_RESOURCE_BODY = { resource_id: 1, resource_dict: DOCUMENT_RESOURCE_DICT };

/** `create_trading_signal(1, 'AAPL', 0.01, 'market', 'buy', 'gtc')` */
export const DOCUMENT_TRADING_SIGNAL_BODY = {
  algorithm_id: 1,
  ticker_symbol: "AAPL",
  order_type: "market",
  portfolio_ratio_investment: 0.01,
  side: "buy",
  time_in_force: "gtc",
};
