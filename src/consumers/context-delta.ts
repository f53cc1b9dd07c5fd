import { channelNamedIn, isOptOut } from "../conversations/understanding/deterministic.js";
import { Channel, type Stage } from "../generated/prisma/enums.js";
import { eventEffect, serviceCounterKey } from "./event-effects.js";
import { nextStage } from "./stage.js";

// The context update of an ingestion: what a batch of events adds to each consumer's context
// (a delta), applied by the context store in one statement. Free of database clients, so the
// benchmark's plain-pg baseline computes exactly the same.

/** What the context update needs of an event. */
export type ContextEvent = { type: string; payload?: Record<string, unknown> | null };

const CHANNELS = Object.values(Channel);

/**
 * The channels an event opts the consumer out of ([] for none): an `unsubscribed` event (its
 * `payload.channel`, or every channel), or a reply whose text is an opt-out in plain words
 * ("please stop messaging me", "no me escribas más": conversations/understanding), on the channel
 * it names ("don't email me") or every channel. Read at ingestion, so an opt-out holds whatever
 * the agents do (paused, remote, none).
 */
export function optOutChannels(event: ContextEvent): Channel[] {
  if (event.type === "unsubscribed") {
    const named = String(event.payload?.channel ?? "").toUpperCase();
    const channel = CHANNELS.find((c) => c === named);
    return channel ? [channel] : [...CHANNELS];
  }
  if (event.type !== "whatsapp_replied" && event.type !== "email_replied") return [];
  const text = event.payload?.text;
  if (typeof text !== "string" || !isOptOut(text)) return [];
  const named = channelNamedIn(text);
  return named ? [named] : [...CHANNELS];
}

function stageTarget(event: ContextEvent): Stage {
  const effect = eventEffect(event.type);
  const optedOut = optOutChannels(event);
  // A one-channel opt-out withdraws consent there but keeps the consumer in the funnel.
  if (optedOut.length === 1) return "NEW";
  if (optedOut.length > 1) return "UNSUBSCRIBED";
  return effect.stage;
}

export type ContextDelta = {
  consumerId: string;
  stage: Stage;
  lastSeenAt: Date;
  eventCount: number;
  pageViews: number;
  serviceClicks: number;
  emailsOpened: number;
  whatsappReplied: number;
  objections: number;
  enrolled: boolean;
  counters: Record<string, number>;
  attributes: Record<string, unknown>;
};

export function emptyDelta(consumerId: string, at: Date): ContextDelta {
  return {
    consumerId,
    stage: "NEW",
    lastSeenAt: at,
    eventCount: 0,
    pageViews: 0,
    serviceClicks: 0,
    emailsOpened: 0,
    whatsappReplied: 0,
    objections: 0,
    enrolled: false,
    counters: {},
    attributes: {},
  };
}

export function addToDelta(delta: ContextDelta, event: ContextEvent, occurredAt: Date): void {
  const effect = eventEffect(event.type);
  delta.eventCount += 1;
  if (effect.counter) delta[effect.counter] += 1;
  if (effect.enrolled) delta.enrolled = true;
  delta.stage = nextStage(delta.stage, stageTarget(event));
  if (occurredAt > delta.lastSeenAt) delta.lastSeenAt = occurredAt;
  const service = event.payload?.service;
  if (typeof service === "string" && (event.type === "page_view" || event.type === "service_click")) {
    const key = serviceCounterKey(service);
    delta.counters[key] = (delta.counters[key] ?? 0) + 1;
  }
  if (effect.description === "custom") delta.counters[event.type] = (delta.counters[event.type] ?? 0) + 1;
}
