import { spawn } from "node:child_process";

/**
 * The resources document's Python client, as written there; only BASE_URL comes from the
 * environment. Prints one JSON line per call: {"status": ..., "body": ...}.
 */
export const DOCUMENT_PYTHON_CLIENT = String.raw`
import requests
import os
import json

BASE_URL = os.environ['BASE_URL']
API_KEY = os.environ['API_KEY']
API_SECRET = os.environ['API_SECRET']
HEADERS = {'API-KEY': API_KEY, 'API-SECRET': API_SECRET}

def upload_resource(resource_id, resource_dict):
    url = "{}/upload_resource".format(BASE_URL)
    data = {
      'resource_id': resource_id,
      'resource_dict': resource_dict
    }
    r = requests.post(url, json=data, headers=HEADERS)
    return r

def create_trading_signal(algorithm_id, symbol, portfolio_ratio_investment, order_type, side, time_in_force):
    data = {
        "algorithm_id":algorithm_id,
        "ticker_symbol":symbol,
        "order_type": order_type,
        "portfolio_ratio_investment": portfolio_ratio_investment,
        "side":side,
        "time_in_force":time_in_force
    }
    url = "{}/create_trading_signal".format(BASE_URL)
    r = requests.post(url, json=data, headers=HEADERS)
    return r

if __name__ == '__main__':
    data_dict = {
      "Symbol": "LGND",
      "Market": "U.S. Nasdaq",
      "Retracement channels":{
        "90": {
            "current_price": 66.51000213623047,
            "fibonacci_levels": [
                82.04000091552734,
                75.13517967224121,
                70.86355297088623,
                67.41114234924316,
                63.958731727600096,
                59.04343524932861,
                52.782283782958984
            ],
            "trend": "bullish"
        }
    },
    }
    for r in [upload_resource(1, data_dict), create_trading_signal(1, 'AAPL', 0.01, 'market', 'buy', 'gtc')]:
        print(json.dumps({"status": r.status_code, "body": r.json()}))
`;

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => {
      stdout += c;
    });
    child.stderr.on("data", (c) => {
      stderr += c;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

/** The trade-ideas document's curl command: `curl -H 'Authorization: Bearer …' [-H 'X-Long-Poll: N'] URL`. */
export async function documentCurl(url: string, token: string, longPollSeconds?: number): Promise<unknown> {
  const args = ["-s", "-H", `Authorization: Bearer ${token}`];
  if (longPollSeconds !== undefined) args.push("-H", `X-Long-Poll: ${longPollSeconds}`);
  const result = await run("curl", [...args, url]);
  if (result.code !== 0) throw new Error(`curl failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout);
}
