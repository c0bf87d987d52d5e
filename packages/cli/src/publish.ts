import { createPublisher, type PublishAnswer, type PublishOptions } from "@heliograph/client";
import type { IdeaPublishRequest, TradingSignalRequest, UploadResourceRequest } from "@heliograph/contracts";
import type { Command } from "./args.js";
import type { CliIo } from "./cli.js";
import type { PublisherConfig } from "./config.js";
import { readJsonObject } from "./json-input.js";

type PublishCommand = Extract<Command, { name: "publish-signal" | "publish-resource" | "publish-idea" }>;

/**
 * `publish signal|resource|idea`: one call of the SDK publisher (its retries, under one
 * Idempotency-Key). The body is sent as given: the gateway's validation is the one that counts,
 * and its refusal (code, message, details) is what the user sees.
 */
export async function publish(
  command: PublishCommand,
  config: PublisherConfig,
  json: boolean,
  io: CliIo,
): Promise<string> {
  const publisher = createPublisher({
    baseUrl: config.url,
    apiKey: config.apiKey,
    apiSecret: config.apiSecret,
    ...(io.fetch && { fetch: io.fetch }),
  });
  const options: PublishOptions = {
    ...(command.wait !== undefined && { waitForNumber: command.wait }),
    ...(command.idempotencyKey !== undefined && { idempotencyKey: command.idempotencyKey }),
    ...(io.signal && { signal: io.signal }),
  };
  let answer: PublishAnswer;
  switch (command.name) {
    case "publish-signal": {
      const file = command.file === undefined ? {} : await readJsonObject(command.file, "--file", io);
      const body = { order_type: "market", ...file, ...command.fields } as TradingSignalRequest;
      answer = await publisher.createTradingSignal(body, options);
      break;
    }
    case "publish-resource": {
      const values = await readJsonObject(command.dataFile, "--data", io);
      const body: UploadResourceRequest = { resource_id: command.resourceId, resource_dict: values };
      answer = await publisher.uploadResource(body, options);
      break;
    }
    case "publish-idea": {
      const body = (await readJsonObject(command.file, "--file", io)) as IdeaPublishRequest;
      const call = { open: publisher.openIdea, update: publisher.updateIdea, close: publisher.closeIdea }[
        command.action
      ];
      answer = await call(command.channel, body, options);
      break;
    }
  }
  if (json) return JSON.stringify(answer, null, 2);
  return answer.status === "sequenced"
    ? `event ${answer.event_number} of ${answer.stream_id} (ingest id ${answer.ingest_id}, id ${answer.id})`
    : `accepted: ingest id ${answer.ingest_id} into ${answer.stream_id} (id ${answer.id})${
        command.wait !== undefined ? `; not numbered within ${command.wait} s, it will be` : ""
      }`;
}
