export type {
  IdeaProjection,
  IdeaPublishRequest,
  PublishAnswer,
  StreamEvent,
  TradingSignalRequest,
  UploadResourceRequest,
} from "@heliograph/contracts";
export { HeliographApiError, HeliographNetworkError } from "./errors.js";
export { createPublisher, type Publisher, type PublisherOptions, type PublishOptions } from "./publisher.js";
export type { RetryOptions } from "./retry.js";
export {
  createSubscriber,
  type EventItem,
  type EvictedItem,
  type FollowItem,
  type FollowOptions,
  type StatusItem,
  type Subscriber,
  type SubscriberOptions,
} from "./subscriber.js";
