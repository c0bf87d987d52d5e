import { readFileSync } from "node:fs";
import { createPublisher, createSubscriber } from "@heliograph/client";

// pnpm dev writes its URLs and credentials here (HG_STATE_DIR moves the folder, as for pnpm dev).
const dev = JSON.parse(readFileSync(`${process.env.HG_STATE_DIR ?? ".heliograph"}/dev.json`, "utf8"));

const publisher = createPublisher({
  baseUrl: dev.ingest_url,
  apiKey: dev.publisher.api_key,
  apiSecret: dev.publisher.api_secret,
});
const published = await publisher.createTradingSignal(
  {
    algorithm_id: dev.algorithm_id,
    ticker_symbol: "AAPL",
    portfolio_ratio_investment: 0.01,
    order_type: "market",
    side: "buy",
    time_in_force: "gtc",
  },
  { waitForNumber: 5 },
);
console.log("published", published); // { status: "sequenced", event_number: n, … }

const subscriber = createSubscriber({ baseUrl: dev.stream_url, token: dev.subscriber.token });
// Every event from the start; follow() goes on across long polls until the loop stops it.
for await (const item of subscriber.follow(dev.streams.algorithm, { after: -1 })) {
  if (item.kind !== "event") continue; // a halt, a resume or an evicted position
  console.log("event", item.event.event_number, item.event.event_type, item.event.data.id);
  if (item.event.data.id === published.id) break;
}
