import { createHash, randomUUID } from "node:crypto";
import { z } from "zod";
import { announceCancellations, applyConsentChanges } from "../consumers/consent-service.js";
import type { ConsentChange } from "../consumers/consent-store.js";
import { resolveConsumers } from "../consumers/consumer-identity.js";
import { consumerInput, jsonObject } from "../consumers/consumer-input.js";
import { addToDelta, type ContextDelta, emptyDelta, optOutChannels } from "../consumers/context-delta.js";
import { applyContextDeltas, contextsOf } from "../consumers/context-store.js";
import { CUSTOM_EVENT_TYPE, MAX_ENROLMENT_AMOUNT } from "../consumers/event-effects.js";
import { publishConversationChanges } from "../conversations/conversation-feed.js";
import { inboundMessagesOf, recordInbound } from "../conversations/conversation-store.js";
import { inTransaction, type Sql } from "../db/transaction.js";
import { ConflictError, NotFoundError, ValidationError } from "../errors.js";
import type { ConsumerContext, Event } from "../generated/prisma/client.js";
import { logger } from "../logger.js";
import { eventsIngested } from "../observability/metrics.js";
import { currencyCode } from "../validation.js";
import type { Viewer } from "../viewer.js";
import { enqueueAgentRuns } from "./dispatch.js";
import { coverReceivedAt } from "./event-partitions.js";
import { contextFromSnapshot, eventsWithKeys, insertEvents, storeContextSnapshots } from "./event-store.js";

export const MAX_BATCH = 500;
const MAX_PAYLOAD_BYTES = 16_384;
/** Clocks drift: an occurredAt up to this far ahead is accepted, further is a client bug. */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

const eventFields = z.object({
  consumer: consumerInput,
  type: z.string().regex(CUSTOM_EVENT_TYPE, "lowercase letters, digits and _ . : - (a known type or your own)"),
  payload: jsonObject(MAX_PAYLOAD_BYTES).nullish(),
  occurredAt: z
    .date()
    .refine((d) => d.getTime() <= Date.now() + MAX_CLOCK_SKEW_MS, "must not be more than 5 minutes in the future")
    .nullish(),
  idempotencyKey: z.string().trim().min(1).max(200).nullish(),
});

/**
 * The money of an `enrolled` event, which the analytics add up into the creator's revenue:
 * `payload.amount`, when given, a JSON number from 0 to MAX_ENROLMENT_AMOUNT (major units of the
 * currency); `payload.currency`, when given, an ISO 4217 code (any case: the analytics upper-case
 * it). Other events' payloads are the client's own.
 */
function checkEnrolmentMoney(event: { type: string; payload?: Record<string, unknown> | null }, ctx: z.RefinementCtx) {
  if (event.type !== "enrolled" || !event.payload) return;
  const { amount, currency } = event.payload;
  if (amount != null && !(typeof amount === "number" && amount >= 0 && amount <= MAX_ENROLMENT_AMOUNT)) {
    ctx.addIssue({
      code: "custom",
      path: ["payload", "amount"],
      message: `must be a number from 0 to ${MAX_ENROLMENT_AMOUNT} (major units)`,
    });
  }
  const code = currency == null ? null : currencyCode.safeParse(currency);
  if (code && !code.success) {
    ctx.addIssue({ code: "custom", path: ["payload", "currency"], message: code.error.issues[0].message });
  }
}

export const eventInput = eventFields.superRefine(checkEnrolmentMoney);

export type EventInput = z.input<typeof eventInput>;
type ParsedEvent = z.output<typeof eventInput>;

export type IngestResult = { event: Event; duplicate: boolean; context: ConsumerContext };

/** The same key with the same body is a replay; with another body it is a conflict. */
function bodyHash(raw: ConsumerEventInput): string {
  const canonical = JSON.stringify(raw, (_k, v) =>
    v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date)
      ? Object.fromEntries(
          Object.entries(v)
            .filter(([, x]) => x != null)
            .sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
  return createHash("sha256").update(canonical).digest("hex");
}

/**
 * The consumer of each event. A replay of a stored key is its first event's consumer, and a key
 * repeated in the batch its first item's: only new events go through the identity rules, so a
 * replay never renames, links or creates anyone.
 */
async function consumersOf(
  client: Sql,
  creatorId: string,
  events: ParsedEvent[],
  storedByKey: Map<string, Event>,
): Promise<string[]> {
  const stored = new Map([...storedByKey].map(([key, event]) => [key, event.consumerId]));
  const firstWithKey = new Map<string, number>();
  const fresh: number[] = [];
  events.forEach((event, i) => {
    const key = event.idempotencyKey;
    if (key && (stored.has(key) || firstWithKey.has(key))) return;
    if (key) firstWithKey.set(key, i);
    fresh.push(i);
  });
  const resolved =
    fresh.length > 0
      ? await resolveConsumers(
          client,
          creatorId,
          fresh.map((i) => events[i].consumer),
        )
      : [];
  const ids: string[] = [];
  fresh.forEach((i, n) => {
    ids[i] = resolved[n];
  });
  return events.map((event, i) => {
    const key = event.idempotencyKey;
    return ids[i] ?? stored.get(key as string) ?? ids[firstWithKey.get(key as string) as number];
  });
}

/** Consent changes carried by the events: explicit consents, and withdrawals by opt-outs (optOutChannels). */
async function applyConsents(client: Sql, events: ParsedEvent[], consumerIds: string[]) {
  const changes: ConsentChange[] = [];
  const now = Date.now();
  events.forEach((event, i) => {
    // A consent change takes effect when it is received at the latest: an occurredAt ahead (clock
    // skew is accepted up to 5 minutes) must not outrank an opt-out that arrives meanwhile.
    const at = new Date(Math.min((event.occurredAt ?? new Date(now)).getTime(), now));
    for (const c of event.consumer.consents ?? []) {
      changes.push({
        consumerId: consumerIds[i],
        channel: c.channel,
        status: c.granted ? "GRANTED" : "WITHDRAWN",
        source: c.source,
        at,
      });
    }
    for (const channel of optOutChannels(event)) {
      const source = event.type === "unsubscribed" ? "unsubscribed_event" : "opt_out_in_words";
      changes.push({ consumerId: consumerIds[i], channel, status: "WITHDRAWN", source, at });
    }
  });
  return applyConsentChanges(client, changes);
}

/**
 * Stores a batch of events atomically: consumers, events and contexts in one transaction, all or
 * nothing. A bad item rejects the whole batch (its index is in the error), so a client never has
 * to work out which half was written. After commit, one agent job per new event is enqueued.
 */
export async function ingestEvents(
  creatorId: string,
  raw: EventInput[],
  _actor: Viewer | null,
): Promise<IngestResult[]> {
  if (raw.length === 0) throw new ValidationError("Send at least one event", [{ path: "events", message: "empty" }]);
  if (raw.length > MAX_BATCH) {
    throw new ValidationError(`A batch holds at most ${MAX_BATCH} events`, [
      { path: "events", message: `at most ${MAX_BATCH}` },
    ]);
  }
  const parsed = raw.map((item, i) => {
    const result = eventInput.safeParse(item);
    if (!result.success) throw ValidationError.fromZod(result.error, raw.length > 1 ? `events.${i}` : "");
    return result.data;
  });
  return storeBatch(creatorId, raw, parsed, (tx, stored) => consumersOf(tx, creatorId, parsed, stored)).catch(
    (error) => {
      // Only an admin key can name a creator that does not exist (other keys are bound to theirs).
      if ((error as { code?: string }).code === "23503") throw new NotFoundError("Creator", creatorId);
      throw error;
    },
  );
}

/** An event about a consumer whose id is known: a delivery outcome, a reply. */
export type ConsumerEventInput = Omit<EventInput, "consumer">;

const consumerEventInput = eventFields.omit({ consumer: true }).superRefine(checkEnrolmentMoney);

/**
 * Stores one event on a consumer known by id (delivery outcomes and replies: no identity rules
 * run), with ingestion's guarantees: idempotency key, context update, consent changes, agent run.
 * Null when the consumer no longer exists. Raises ValidationError, ConflictError (a key reused
 * with another body).
 */
export async function recordConsumerEvent(
  creatorId: string,
  consumerId: string,
  event: ConsumerEventInput,
): Promise<IngestResult | null> {
  const [stored] = await recordConsumerEvents(creatorId, [{ consumerId, event }]);
  return stored;
}

/**
 * Stores events on consumers of one creator known by id, as recordConsumerEvent does, in one
 * transaction whatever their number (a scheduler's delivery outcomes); answers each one's result
 * in order, null for a consumer that no longer exists. A batch holding a deleted consumer is
 * stored item by item, so the others are kept. Raises ValidationError, ConflictError (a key reused
 * with another body: the whole batch is refused, as ingestEvents does).
 */
export async function recordConsumerEvents(
  creatorId: string,
  items: { consumerId: string; event: ConsumerEventInput }[],
): Promise<(IngestResult | null)[]> {
  if (items.length === 0) return [];
  const parsed = items.map(({ event }) => {
    const result = consumerEventInput.safeParse(event);
    if (!result.success) throw ValidationError.fromZod(result.error);
    return { ...result.data, consumer: {} };
  });
  try {
    return await storeBatch(
      creatorId,
      items.map((i) => i.event),
      parsed,
      async () => items.map((i) => i.consumerId),
    );
  } catch (error) {
    if ((error as { code?: string }).code !== "23503") throw error;
    // A consumer was deleted since: null for it alone.
    if (items.length === 1) return [null];
    return Promise.all(items.map(async (item) => (await recordConsumerEvents(creatorId, [item]))[0]));
  }
}

/**
 * The transaction of an ingestion: events, contexts, consents and snapshots for the parsed events
 * of `raw`, their consumers given by `consumersOf` (which sees the events already stored under the
 * batch's idempotency keys); then, after commit, the feeds and agent jobs.
 */
async function storeBatch(
  creatorId: string,
  raw: ConsumerEventInput[],
  parsed: ParsedEvent[],
  consumersOf: (tx: Sql, storedByKey: Map<string, Event>) => Promise<string[]>,
): Promise<IngestResult[]> {
  // Only a key's replay is compared with its first body: events without one need no hash.
  const hashes = raw.map((item, i) => (parsed[i].idempotencyKey ? bodyHash(item) : null));
  const receivedAt = new Date();
  await coverReceivedAt(receivedAt);

  // A racing request may create the same consumer, or lock contexts in another order: retried.
  const { results, fresh, cancelled, conversations } = await inTransaction(
    async (client) => {
      // Events stored earlier under the batch's keys, read once: they name a replay's consumer and
      // answer it. Only keys a concurrent request stored meanwhile are read again after the insert.
      const keys = [...new Set(parsed.map((e) => e.idempotencyKey).filter((k): k is string => !!k))];
      const earlier = new Map<string, Event>();
      if (keys.length > 0) {
        for (const row of await eventsWithKeys(client, creatorId, keys)) earlier.set(row.idempotencyKey as string, row);
      }
      const consumerIds = await consumersOf(client, earlier);
      const ids = parsed.map(() => randomUUID());
      const occurred = parsed.map((e) => e.occurredAt ?? receivedAt);
      const inserted = await insertEvents(
        client,
        creatorId,
        receivedAt,
        parsed.map((e, i) => ({
          id: ids[i],
          consumerId: consumerIds[i],
          type: e.type,
          payload: e.payload ?? {},
          occurredAt: occurred[i],
          idempotencyKey: e.idempotencyKey ?? null,
          bodyHash: hashes[i],
        })),
      );
      const byId = new Map(inserted.map((e) => [e.id, e]));
      const conversations = await recordInbound(client, inboundMessagesOf(inserted));

      // Items whose key was already stored (earlier, or earlier in this batch) are replays or conflicts.
      const replayKeys = parsed
        .filter((e, i) => !byId.has(ids[i]) && e.idempotencyKey && !earlier.has(e.idempotencyKey))
        .map((e) => e.idempotencyKey as string);
      if (replayKeys.length > 0) {
        for (const row of await eventsWithKeys(client, creatorId, replayKeys))
          earlier.set(row.idempotencyKey as string, row);
      }

      const deltas = new Map<string, ContextDelta>();
      const items = parsed.map((event, i) => {
        const own = byId.get(ids[i]);
        if (own) {
          const delta = deltas.get(own.consumerId) ?? emptyDelta(own.consumerId, occurred[i]);
          addToDelta(delta, event, occurred[i]);
          Object.assign(delta.attributes, event.consumer.attributes ?? {});
          deltas.set(own.consumerId, delta);
          return { event: own, duplicate: false };
        }
        const first = earlier.get(event.idempotencyKey as string);
        if (!first) throw new Error("idempotent event vanished during ingestion");
        if (first.bodyHash !== hashes[i]) {
          throw new ConflictError(
            `Idempotency key "${event.idempotencyKey}" was already used for a different event${raw.length > 1 ? ` (events.${i})` : ""}`,
          );
        }
        return { event: first, duplicate: true };
      });

      const freshEvents = items.filter((r) => !r.duplicate);
      const cancelled = await applyConsents(
        client,
        parsed.filter((_e, i) => !items[i].duplicate),
        consumerIds.filter((_c, i) => !items[i].duplicate),
      );
      const contexts = new Map<string, ConsumerContext>();
      // Every consumer of the batch has a context by the time it is asked for (upserted, or read).
      const contextOf = (consumerId: string): ConsumerContext => {
        const context = contexts.get(consumerId);
        if (!context) throw new Error(`consumer ${consumerId} has no context after ingestion`);
        return context;
      };
      if (deltas.size > 0) {
        const sorted = [...deltas.values()].sort((a, b) => a.consumerId.localeCompare(b.consumerId));
        for (const row of await applyContextDeltas(client, creatorId, sorted)) contexts.set(row.consumerId, row);
      }
      // Events without a key can never be replayed: they cost nothing here.
      const keyed = freshEvents.filter((r) => r.event.idempotencyKey).map((r) => r.event);
      if (keyed.length > 0) {
        await storeContextSnapshots(
          client,
          receivedAt,
          keyed.map((e) => ({ eventId: e.id, context: contextOf(e.consumerId) })),
        );
      }

      // A replay answers what its first ingestion answered: a first stored earlier in this batch
      // answers this batch's context, as that first does; one stored by an earlier request, its
      // snapshot. Events stored before snapshots were kept have none: those answer the current
      // context, the best there is.
      const answered = items.map((r) =>
        r.duplicate && !byId.has(r.event.id) && r.event.contextSnapshot !== null
          ? contextFromSnapshot(r.event.id, r.event.contextSnapshot)
          : null,
      );
      const untouched = [...new Set(items.filter((_r, i) => !answered[i]).map((r) => r.event.consumerId))].filter(
        (id) => !contexts.has(id),
      );
      if (untouched.length > 0)
        for (const row of await contextsOf(client, creatorId, untouched)) contexts.set(row.consumerId, row);
      return {
        results: items.map((r, i) => ({
          ...r,
          context: answered[i] ?? contextOf(r.event.consumerId),
        })),
        fresh: freshEvents.map((r) => r.event),
        cancelled,
        conversations,
      };
    },
    { attempts: 3 },
  );

  eventsIngested.inc({ outcome: "stored" }, fresh.length);
  if (results.length > fresh.length) eventsIngested.inc({ outcome: "duplicate" }, results.length - fresh.length);
  await announceCancellations(cancelled);
  await publishConversationChanges(conversations);
  if (fresh.length > 0) await enqueueAgentRuns(fresh);
  logger.debug({ creatorId, stored: fresh.length, duplicates: results.length - fresh.length }, "events ingested");
  return results;
}
