import type { Sql } from "../db/transaction.js";
import type { Conversation, Event } from "../generated/prisma/client.js";
import type { Channel, ConversationHolder } from "../generated/prisma/enums.js";
import { isOptOut } from "./understanding/deterministic.js";

// The conversations and conversation_messages tables: one conversation per consumer and channel,
// its messages in order, and who holds it (the agent, a person, or nobody: closed).

/** A conversation that changed, for the live feed (conversationUpdates). */
export type ConversationChange = { id: string; creatorId: string; holder: ConversationHolder };

/** A message of the consumer's, from the event that carried it. */
export type InboundMessage = {
  creatorId: string;
  consumerId: string;
  channel: Channel;
  text: string | null;
  eventId: string;
  at: Date;
  /** An opt-out ("STOP", "please stop messaging me"): recorded, but it never reopens a closed conversation. */
  optOut: boolean;
};

/** Events that are a consumer's message, and the channel each comes on. */
const MESSAGE_EVENTS: Record<string, Channel> = { whatsapp_replied: "WHATSAPP", email_replied: "EMAIL" };

/**
 * The consumer's messages among stored events: replies (whatsapp_replied, email_replied), and an
 * opt-out written as a reply (an `unsubscribed` event carrying the channel and the text).
 */
export function inboundMessagesOf(
  events: (Pick<Event, "id" | "type" | "creatorId" | "consumerId" | "occurredAt"> & { payload: unknown })[],
): InboundMessage[] {
  return events.flatMap((event) => {
    const payload = (event.payload ?? {}) as { channel?: unknown; text?: unknown };
    const text = typeof payload.text === "string" ? payload.text : null;
    const channel =
      MESSAGE_EVENTS[event.type] ??
      (event.type === "unsubscribed" && text !== null && (payload.channel === "WHATSAPP" || payload.channel === "EMAIL")
        ? payload.channel
        : undefined);
    if (!channel) return [];
    return [
      {
        creatorId: event.creatorId,
        consumerId: event.consumerId,
        channel,
        text,
        eventId: event.id,
        at: event.occurredAt,
        optOut: event.type === "unsubscribed" || (text !== null && isOptOut(text)),
      },
    ];
  });
}

/**
 * Records the consumer's messages on their conversations (created on the first), in the
 * ingestion's transaction: lastInboundAt only moves forward and never past the time of receipt
 * (it opens WhatsApp's customer-service window), and a message written after a close
 * reopens the conversation to the agent (not an opt-out; a person who holds it keeps it). An event
 * recorded before adds nothing.
 */
/** A closed conversation reopens on a consumer's message written after the close (not an opt-out). */
const REOPENS = `c.holder = 'CLOSED' AND (SELECT l.reopens_at FROM latest l
   WHERE l."consumerId" = c."consumerId" AND l.channel = c.channel) > c."holderSince"`;

export async function recordInbound(tx: Sql, messages: InboundMessage[]): Promise<ConversationChange[]> {
  if (messages.length === 0) return [];
  const col = <K extends keyof InboundMessage>(k: K) => messages.map((m) => m[k]);
  const { rows } = await tx.query<ConversationChange>(
    `WITH m AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::"Channel"[], $4::text[], $5::uuid[], $6::timestamptz[], $7::bool[])
         AS m("creatorId", "consumerId", channel, text, "eventId", at, "optOut")
     ), latest AS (
       -- Per conversation: its newest message, and its newest that is not an opt-out (what may reopen it).
       SELECT "creatorId", "consumerId", channel, max(at) AS at, max(at) FILTER (WHERE NOT "optOut") AS reopens_at
         FROM m GROUP BY "creatorId", "consumerId", channel
     ), c AS (
       INSERT INTO conversations AS c ("creatorId", "consumerId", channel, "lastInboundAt")
       -- Never ahead of receipt: an occurredAt from the future must not hold WhatsApp's window open.
       SELECT "creatorId", "consumerId", channel, LEAST(at, now()) FROM latest ORDER BY "consumerId", channel
       ON CONFLICT ("consumerId", channel) DO UPDATE SET
         "lastInboundAt" = GREATEST(c."lastInboundAt", EXCLUDED."lastInboundAt"),
         holder = CASE WHEN ${REOPENS} THEN 'AGENT'::"ConversationHolder" ELSE c.holder END,
         "holderReason" = CASE WHEN ${REOPENS} THEN NULL ELSE c."holderReason" END,
         "holderSince" = CASE WHEN ${REOPENS} THEN now() ELSE c."holderSince" END,
         "updatedAt" = now()
       RETURNING c.id, c."creatorId", c."consumerId", c.channel, c.holder
     ), stored AS (
       INSERT INTO conversation_messages ("conversationId", direction, text, "eventId", at)
       SELECT c.id, 'INBOUND', m.text, m."eventId", m.at FROM m JOIN c USING ("consumerId", channel)
       ON CONFLICT ("eventId") DO NOTHING
     )
     SELECT id, "creatorId", holder FROM c`,
    [col("creatorId"), col("consumerId"), col("channel"), col("text"), col("eventId"), col("at"), col("optOut")],
  );
  return rows;
}

/** A message we sent (an action marked SENT); `topic` is what the agent said (its template), null for a person's message. */
export type OutboundMessage = {
  creatorId: string;
  consumerId: string;
  channel: Channel;
  text: string | null;
  topic: string | null;
  actionId: string;
  at: Date;
};

/**
 * Records messages we sent, in the transaction that marks them sent, in one statement: each
 * consumer's conversation on the channel (created if new, lastOutboundAt only moving forward, locked
 * in (consumer, channel) order), and one message per action (an action recorded before is not
 * recorded again). Answers the conversations they joined, one per (consumer, channel), for the live
 * feed (conversationUpdates) once committed.
 */
export async function recordOutbound(
  tx: Sql,
  messages: OutboundMessage[],
): Promise<(ConversationChange & { consumerId: string; channel: Channel })[]> {
  if (messages.length === 0) return [];
  const col = <K extends keyof OutboundMessage>(key: K) => messages.map((m) => m[key]);
  const { rows } = await tx.query<ConversationChange & { consumerId: string; channel: Channel }>(
    `WITH m AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::"Channel"[], $4::text[], $5::uuid[], $6::timestamptz[],
                            $7::text[]) AS m("creatorId", "consumerId", channel, text, "actionId", at, topic)
     ),
     c AS (
       INSERT INTO conversations AS c ("creatorId", "consumerId", channel, "lastOutboundAt")
       SELECT "creatorId", "consumerId", channel, max(at) FROM m
        GROUP BY "creatorId", "consumerId", channel ORDER BY "consumerId", channel
       ON CONFLICT ("consumerId", channel) DO UPDATE SET
         "lastOutboundAt" = GREATEST(c."lastOutboundAt", EXCLUDED."lastOutboundAt"), "updatedAt" = now()
       RETURNING c.id, c."creatorId", c."consumerId", c.channel, c.holder
     ),
     message AS (
       INSERT INTO conversation_messages ("conversationId", direction, text, "actionId", at, topic)
       SELECT c.id, 'OUTBOUND', m.text, m."actionId", m.at, m.topic
         FROM m JOIN c ON c."consumerId" = m."consumerId" AND c.channel = m.channel
       ON CONFLICT ("actionId") DO NOTHING
     )
     SELECT id, "creatorId", "consumerId", channel, holder FROM c`,
    [col("creatorId"), col("consumerId"), col("channel"), col("text"), col("actionId"), col("at"), col("topic")],
  );
  return rows;
}

/** A conversation as the send rules read it: who holds it, and when the consumer last wrote. */
export type ConversationAtSend = Pick<Conversation, "consumerId" | "channel" | "holder" | "lastInboundAt">;

/**
 * The conversations of the given (consumer, channel) pairs as the send rules read them (a pair
 * without one yet is absent), FOR SHARE in the caller's transaction, locked in (consumer, channel)
 * order: who holds each, and when the consumer last wrote (WhatsApp's customer-service window runs
 * from it). A hand-off committing meanwhile waits for the caller.
 */
export async function conversationsForSend(
  tx: Sql,
  pairs: { consumerId: string; channel: Channel }[],
): Promise<ConversationAtSend[]> {
  if (pairs.length === 0) return [];
  const { rows } = await tx.query<ConversationAtSend>(
    `SELECT "consumerId", channel, holder, "lastInboundAt" FROM conversations
      WHERE ("consumerId", channel) IN (SELECT * FROM unnest($1::uuid[], $2::"Channel"[]))
      ORDER BY "consumerId", channel FOR SHARE`,
    [pairs.map((p) => p.consumerId), pairs.map((p) => p.channel)],
  );
  return rows;
}

export async function findConversationForUpdate(tx: Sql, id: string): Promise<Conversation | null> {
  const { rows } = await tx.query<Conversation>(`SELECT * FROM conversations WHERE id = $1 FOR UPDATE`, [id]);
  return rows[0] ?? null;
}

/** Gives the conversation to a holder, with the reason (null when back to the agent). */
export async function setHolder(
  tx: Sql,
  id: string,
  holder: ConversationHolder,
  reason: string | null,
): Promise<Conversation> {
  const { rows } = await tx.query<Conversation>(
    `UPDATE conversations SET holder = $2::"ConversationHolder", "holderReason" = $3, "holderSince" = now(),
            "updatedAt" = now()
      WHERE id = $1 RETURNING *`,
    [id, holder, reason],
  );
  return rows[0];
}

/**
 * The agent hands the consumer's conversation on a channel to a person (created if the consumer
 * never wrote on it: an objection sent from the site), as of `at`. Call holding the consumer's lock
 * (lockConsumers, exclusive), so the send rules never check an agent's message in between, and
 * after reading the conversation FOR UPDATE: the caller knows the agent holds it.
 */
export async function handOffToPerson(
  tx: Sql,
  handOff: { creatorId: string; consumerId: string; channel: Channel; reason: string; at: Date },
): Promise<ConversationChange> {
  const { rows } = await tx.query<ConversationChange>(
    `INSERT INTO conversations AS c ("creatorId", "consumerId", channel, holder, "holderReason", "holderSince")
     VALUES ($1, $2, $3::"Channel", 'PERSON', $4, $5)
     ON CONFLICT ("consumerId", channel) DO UPDATE SET holder = 'PERSON', "holderReason" = EXCLUDED."holderReason",
       "holderSince" = EXCLUDED."holderSince", "updatedAt" = now()
     RETURNING c.id, c."creatorId", c.holder`,
    [
      handOff.creatorId,
      handOff.consumerId,
      handOff.channel,
      Array.from(handOff.reason).slice(0, 500).join(""),
      handOff.at,
    ],
  );
  return rows[0];
}

/** Notes what the agent understood the consumer's messages (by their events) as. */
export async function recordUnderstanding(tx: Sql, eventIds: string[], intent: string): Promise<void> {
  if (eventIds.length === 0) return;
  await tx.query(`UPDATE conversation_messages SET intent = $2 WHERE "eventId" = ANY($1::uuid[])`, [eventIds, intent]);
}
