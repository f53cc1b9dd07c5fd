import { DateTime } from "luxon";
import { lockConsumers } from "../consumers/consumer-locks.js";
import { type ConversationAtSend, conversationsForSend } from "../conversations/conversation-store.js";
import { type FrequencyCapRule, frequencyCapFor } from "../creators/frequency-caps.js";
import type { Sql } from "../db/transaction.js";
import type { Channel, ConsentStatus, QuietHoursPolicy } from "../generated/prisma/enums.js";
import { formatTimeOfDay } from "../validation.js";
import {
  customerServiceWindowOpen,
  fillTemplateBody,
  MAX_TEMPLATE_BODY_CHARS,
  type TemplateMessage,
  variableCount,
} from "../whatsapp/template-rules.js";
import { type TemplateAtSend, templatesAtSend } from "../whatsapp/template-store.js";
import type { WhatsAppSenderCredentials } from "./providers/provider.js";

// The rules checked at send time, in this order: who holds the conversation and, on WhatsApp,
// the customer-service window; consent on the channel; a WhatsApp template's approval; quiet
// hours; the frequency cap. (The provider's send rate comes last, in the scheduler: a skipped
// message should not spend a token.)

/** Why a free-form WhatsApp message is skipped outside the customer-service window. */
export const WINDOW_CLOSED_REASON = "WhatsApp customer-service window closed: only template messages may be sent";

/** Quiet hours protect a person's evening: they apply to channels that reach one, not to webhooks. */
const PERSONAL_CHANNELS: ReadonlySet<Channel> = new Set<Channel>(["EMAIL", "WHATSAPP"]);

export type QuietHours = {
  /** Minutes after local midnight; start after end wraps past midnight, start equal to end means none. */
  start: number;
  end: number;
  timezone: string;
};

/** Minutes after midnight on the wall clock of the zone (IANA time zone data, through Luxon). */
export function localMinuteOfDay(at: Date, timezone: string): number {
  const local = DateTime.fromJSDate(at, { zone: timezone });
  return local.hour * 60 + local.minute;
}

function isQuietMinute(minute: number, { start, end }: QuietHours): boolean {
  if (start === end) return false;
  return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** The zone's UTC offset at an instant, in minutes (IANA data through Luxon). */
function offsetAt(ms: number, zone: string): number {
  return DateTime.fromMillis(ms, { zone }).offset;
}

/**
 * The first instant after `from` (up to `limit`) at which the zone's offset differs from the one
 * at `from`: a daylight-saving transition. Transitions are whole minutes apart and never closer
 * than hours, so an hourly scan then a search by minutes finds it.
 */
function nextTransition(from: number, limit: number, zone: string): number {
  const offset = offsetAt(from, zone);
  for (let hour = from + HOUR_MS; hour - HOUR_MS < limit; hour += HOUR_MS) {
    if (offsetAt(hour, zone) === offset) continue;
    let [same, changed] = [hour - HOUR_MS, hour];
    while (changed - same > MINUTE_MS) {
      const middle = same + Math.floor((changed - same) / MINUTE_MS / 2) * MINUTE_MS;
      if (offsetAt(middle, zone) === offset) same = middle;
      else changed = middle;
    }
    return changed;
  }
  return limit;
}

/**
 * When the quiet hours around `at` end: the first instant outside them, or null when `at` is
 * outside them. Between two daylight-saving transitions the wall clock runs with UTC, so the
 * window is left when it reads `end`, unless a transition comes first: then the clock jumps (a
 * spring-forward gap may carry it past `end`, a repeated hour back before `start`) and the search
 * goes on from the transition.
 */
export function quietHoursEnd(at: Date, quiet: QuietHours): Date | null {
  const zone = quiet.timezone;
  const localMinute = (ms: number) => (((Math.floor(ms / MINUTE_MS) + offsetAt(ms, zone)) % 1440) + 1440) % 1440;
  if (!isQuietMinute(localMinute(at.getTime()), quiet)) return null;
  // Offsets are whole minutes, so the window is entered and left on minute boundaries.
  let from = Math.floor(at.getTime() / MINUTE_MS) * MINUTE_MS;
  for (;;) {
    const exit = from + ((quiet.end - localMinute(from) + 1440) % 1440) * MINUTE_MS;
    const transition = nextTransition(from, exit, zone);
    if (exit < transition) return new Date(exit);
    if (!isQuietMinute(localMinute(transition), quiet)) return new Date(transition);
    from = transition;
  }
}

export type RuleVerdict =
  | { kind: "send"; creatorName: string; whatsAppSender: WhatsAppSenderCredentials | null }
  | { kind: "skip"; reason: string }
  | { kind: "defer"; until: Date; reason: string }
  /** Every rule passed, but the provider's send rate gave no send for it now. */
  | { kind: "throttled" };

/**
 * Takes up to `wanted` sends from the channel's provider send rate (the scheduler's token buckets)
 * and answers how many it got.
 */
export type TakeSends = (channel: Channel, wanted: number) => Promise<number>;

export type RuleSubject = {
  id: string;
  creatorId: string;
  consumerId: string;
  channel: Channel;
  /** Who wrote a person's message (sendMessage, and its fallback); null for an agent's. */
  sentBy: string | null;
  /** The message; `handOffNotice` marks the agent's one notice of its own hand-off (agent-store). */
  payload: unknown;
};

type SendSettings = {
  creatorName: string;
  creatorTimezone: string;
  consumerTimezone: string | null;
  quietHoursStart: number;
  quietHoursEnd: number;
  quietHoursPolicy: QuietHoursPolicy;
  frequencyCaps: unknown;
  senderPhoneNumberId: string | null;
  senderAccessToken: string | null;
};

/** The key of a (consumer, channel) pair in the maps below. */
const pairKey = (consumerId: string, channel: Channel) => `${consumerId}:${channel}`;

/**
 * Checks a batch of actions against the rules, inside the caller's transaction, which must stay
 * open until the actions are marked dispatched, in a fixed number of statements whatever the batch
 * holds (conversations, consents, templates, settings; and for capped channels the locks and one
 * count). Answers one verdict per action, in the batch's order. An agent's action is also skipped
 * in a conversation the agent does not hold. Locks:
 * - conversations, then consent rows, then templates are read FOR SHARE (the order ingestion locks
 *   them in), each in a fixed order, so a hand-off, an unsubscribe or a template's status change
 *   committing meanwhile waits for this transaction, and one that committed before is seen;
 * - a capped channel is locked per (consumer, channel), in sorted order, and the count includes
 *   sends other workers have dispatched but not finished, and those this batch dispatches before
 *   the action (replies included), so concurrent workers and one batch's actions never exceed the
 *   cap together;
 * - first of all, the consumers of the agents' messages are locked shared (lockConsumers), so a
 *   hand-off creating the conversation is either seen or waits.
 * The provider's send rate comes last (a skipped message spends no send): `takeSends` is asked
 * once per channel for the actions that pass every rule, and those it gives no send are
 * "throttled", counting for no cap.
 */
export async function checkSendRules(
  client: Sql,
  actions: RuleSubject[],
  now: Date,
  takeSends: TakeSends,
): Promise<RuleVerdict[]> {
  if (actions.length === 0) return [];
  await lockConsumers(
    client,
    actions.filter((a) => a.sentBy === null).map((a) => a.consumerId),
    "shared",
  );
  // An agent's message is not sent into a conversation a person holds or that was closed, even one
  // claimed before the hand-off; WhatsApp's window is read from the conversation too.
  const conversations = new Map(
    (
      await conversationsForSend(
        client,
        actions.filter((a) => a.sentBy === null || a.channel === "WHATSAPP"),
      )
    ).map((c) => [pairKey(c.consumerId, c.channel), c]),
  );
  const { rows: consentRows } = await client.query<{
    consumerId: string;
    channel: Channel;
    status: ConsentStatus;
    source: string;
  }>(
    `SELECT "consumerId", channel, status, source FROM consumer_consents
      WHERE ("consumerId", channel) IN (SELECT * FROM unnest($1::uuid[], $2::"Channel"[]))
      ORDER BY "consumerId", channel FOR SHARE`,
    [actions.map((a) => a.consumerId), actions.map((a) => a.channel)],
  );
  const consents = new Map(consentRows.map((c) => [pairKey(c.consumerId, c.channel), c]));
  const templateOfAction = actions.map((a) => (a.channel === "WHATSAPP" ? templateOf(a.payload) : null));
  const templates = new Map(
    (
      await templatesAtSend(
        client,
        actions.flatMap((a, i) => {
          const t = templateOfAction[i];
          return t ? [{ creatorId: a.creatorId, name: t.name, language: t.language }] : [];
        }),
      )
    ).map((t) => [`${t.creatorId}:${t.name}:${t.language}`, t]),
  );
  const { rows: settingRows } = await client.query<SendSettings & { consumerId: string }>(
    `SELECT co.id AS "consumerId", cr.name AS "creatorName", cr.timezone AS "creatorTimezone",
            co.timezone AS "consumerTimezone", cr."quietHoursStart", cr."quietHoursEnd", cr."quietHoursPolicy",
            cr."frequencyCaps", ws."phoneNumberId" AS "senderPhoneNumberId", ws."accessToken" AS "senderAccessToken"
       FROM consumers co JOIN creators cr ON cr.id = co."creatorId"
       LEFT JOIN whatsapp_senders ws ON ws."creatorId" = cr.id
      WHERE co.id = ANY($1::uuid[])`,
    [[...new Set(actions.map((a) => a.consumerId))]],
  );
  const settings = new Map(settingRows.map((r) => [r.consumerId, r]));

  // Every rule but the cap, action by action; those left to the cap are counted together below.
  const verdicts: (RuleVerdict | { kind: "capped"; cap: FrequencyCapRule; person: boolean })[] = actions.map(
    (action, i) => {
      const setting = settings.get(action.consumerId);
      if (!setting) return { kind: "skip", reason: "the consumer no longer exists" };
      return checkBeforeCap(action, now, {
        conversation: conversations.get(pairKey(action.consumerId, action.channel)) ?? null,
        consent: consents.get(pairKey(action.consumerId, action.channel)) ?? null,
        template: templateOfAction[i],
        registered: (t) => templates.get(`${action.creatorId}:${t.name}:${t.language}`) ?? null,
        settings: setting,
      });
    },
  );

  const capped = new Map<string, { since: Date; all: number; people: number }>();
  verdicts.forEach((v, i) => {
    if (v.kind !== "capped") return;
    const { consumerId, channel } = actions[i];
    capped.set(pairKey(consumerId, channel), {
      since: new Date(now.getTime() - v.cap.windowHours * 3_600_000),
      all: 0,
      people: 0,
    });
  });
  if (capped.size > 0) {
    const pairs = [...capped.keys()].sort();
    await client.query(
      `SELECT pg_advisory_xact_lock(hashtextextended('frequency-cap:' || k, 0)) FROM unnest($1::text[]) AS k`,
      [pairs],
    );
    const split = pairs.map((p) => p.split(":"));
    const { rows } = await client.query<{ consumerId: string; channel: Channel; all: number; people: number }>(
      `SELECT a."consumerId", a.channel, count(*)::int AS all, count(*) FILTER (WHERE a."sentBy" IS NOT NULL)::int AS people
         FROM actions a
         JOIN unnest($1::uuid[], $2::"Channel"[], $3::timestamptz[]) AS p("consumerId", channel, since)
           ON a."consumerId" = p."consumerId" AND a.channel = p.channel
        WHERE a.id <> ALL($4::uuid[])
          AND ((a.status = 'SENT' AND a."sentAt" > p.since) OR (a.status = 'SENDING' AND a."dispatchedAt" IS NOT NULL)
               -- A send with no answer may have reached the consumer: it counts, as agents count it said.
               OR (a.status = 'FAILED' AND a."outcomeUnknown" AND a."dispatchedAt" > p.since))
        GROUP BY a."consumerId", a.channel`,
      [
        split.map(([c]) => c),
        split.map(([, ch]) => ch),
        pairs.map((p) => (capped.get(p) as { since: Date }).since),
        actions.map((a) => a.id),
      ],
    );
    for (const row of rows)
      Object.assign(capped.get(pairKey(row.consumerId, row.channel)) as object, { all: row.all, people: row.people });
  }

  /**
   * The verdicts in batch order, each action dispatched counting for the cap of its (consumer,
   * channel) before the next; `sends` per channel (unbounded when absent) runs out into "throttled".
   */
  const decide = (sends: Map<Channel, number> | null): RuleVerdict[] => {
    const counts = new Map([...capped].map(([key, c]) => [key, { ...c }]));
    const left = sends && new Map(sends);
    return verdicts.map((verdict, i): RuleVerdict => {
      const action = actions[i];
      if (verdict.kind !== "capped" && verdict.kind !== "send") return verdict;
      // Only pairs with a capped action in the batch are counted: the others have no cap to reach.
      const counted = counts.get(pairKey(action.consumerId, action.channel));
      if (verdict.kind === "capped" && counted) {
        const { cap, person } = verdict;
        if ((person ? counted.people : counted.all) >= cap.max) {
          return {
            kind: "skip",
            reason: `frequency cap reached: ${cap.max} ${action.channel} messages${person ? " from people" : ""} in ${cap.windowHours} h`,
          };
        }
      }
      if (left) {
        const remaining = left.get(action.channel) ?? 0;
        if (remaining === 0) return { kind: "throttled" };
        left.set(action.channel, remaining - 1);
      }
      if (counted) {
        counted.all++;
        if (action.sentBy !== null) counted.people++;
      }
      return sendVerdict(settings.get(action.consumerId) as SendSettings);
    });
  };
  const wanted = new Map<Channel, number>();
  for (const [i, v] of decide(null).entries()) {
    if (v.kind === "send") wanted.set(actions[i].channel, (wanted.get(actions[i].channel) ?? 0) + 1);
  }
  const sends = new Map<Channel, number>();
  for (const [channel, count] of wanted) sends.set(channel, await takeSends(channel, count));
  return decide(sends);
}

/** What checkBeforeCap reads for one action, loaded for the whole batch by checkSendRules. */
type RuleInputs = {
  conversation: ConversationAtSend | null;
  consent: { status: ConsentStatus; source: string } | null;
  template: TemplateMessage | null;
  registered: (template: TemplateMessage) => TemplateAtSend | null;
  settings: SendSettings;
};

/** The rules before the frequency cap, in order; "capped" when the cap alone remains to check. */
function checkBeforeCap(
  action: RuleSubject,
  now: Date,
  { conversation, consent, template, registered, settings }: RuleInputs,
): RuleVerdict | { kind: "capped"; cap: FrequencyCapRule; person: boolean } {
  if (action.sentBy === null) {
    const holder = conversation?.holder;
    const handOffNotice = (action.payload as { handOffNotice?: unknown } | null)?.handOffNotice === true;
    if (holder && holder !== "AGENT" && !(holder === "PERSON" && handOffNotice)) {
      return {
        kind: "skip",
        reason: holder === "PERSON" ? "conversation handed off to a person" : "conversation closed",
      };
    }
  }
  // The window may have closed since the message was planned or written (quiet hours deferred it,
  // a retry came late): WhatsApp would refuse free text now (Cloud API error 131047), a person's
  // message included.
  const lastInboundAt = conversation?.lastInboundAt ?? null;
  if (action.channel === "WHATSAPP" && !template && !customerServiceWindowOpen(lastInboundAt, now)) {
    const since = lastInboundAt
      ? `the consumer last wrote at ${lastInboundAt.toISOString()}`
      : "the consumer never wrote";
    return { kind: "skip", reason: `${WINDOW_CLOSED_REASON} (${since})` };
  }

  if (!consent) return { kind: "skip", reason: `no ${action.channel} consent` };
  if (consent.status !== "GRANTED") {
    return { kind: "skip", reason: `${action.channel} consent withdrawn (${consent.source})` };
  }

  if (template) {
    const refusal = templateRefusal(registered(template), template, action.payload);
    if (refusal) return { kind: "skip", reason: refusal };
  }

  // An agent's answer to the consumer's own message is a reply, not marketing: quiet hours and the
  // frequency cap do not hold it back (consent, above, still does). `inReplyTo` is set by the
  // agent store alone (completeInvocations), never taken from a runtime.
  const reply =
    action.sentBy === null && typeof (action.payload as { inReplyTo?: unknown } | null)?.inReplyTo === "string";
  // A person's message (sendMessage: sentBy) is capped by people's messages alone: the
  // agent's welcome, answer and hand-off notice must not use up the day's allowance before the
  // creator answers a refund request, and a key looping on sendMessage is still held to the cap.
  const person = action.sentBy !== null;

  if (PERSONAL_CHANNELS.has(action.channel) && !reply) {
    const quiet: QuietHours = {
      start: settings.quietHoursStart,
      end: settings.quietHoursEnd,
      timezone: settings.consumerTimezone ?? settings.creatorTimezone,
    };
    const until = quietHoursEnd(now, quiet);
    if (until) {
      const window = `quiet hours ${formatTimeOfDay(quiet.start)}-${formatTimeOfDay(quiet.end)} (${quiet.timezone})`;
      return settings.quietHoursPolicy === "DEFER"
        ? { kind: "defer", until, reason: `${window}: deferred to ${until.toISOString()}` }
        : { kind: "skip", reason: window };
    }
  }

  const cap = reply ? null : frequencyCapFor(settings.frequencyCaps, action.channel);
  return cap ? { kind: "capped", cap, person } : sendVerdict(settings);
}

function sendVerdict(settings: SendSettings): RuleVerdict {
  const { senderPhoneNumberId: phoneNumberId, senderAccessToken: accessToken } = settings;
  return {
    kind: "send",
    creatorName: settings.creatorName,
    whatsAppSender: phoneNumberId && accessToken ? { phoneNumberId, accessToken } : null,
  };
}

/** The template message a WhatsApp payload names, if any (the payload was checked: action-payload.ts). */
function templateOf(payload: unknown): TemplateMessage | null {
  return (payload as { whatsAppTemplate?: TemplateMessage } | null)?.whatsAppTemplate ?? null;
}

/**
 * Why a template message may not go now, or null: the creator's template of that name and
 * language must exist and still be APPROVED (Meta may pause or disable one after the agent chose
 * it), take as many parameters as given, and its filled body must be the payload's `message`
 * (what the conversation records is what the consumer reads) and within WhatsApp's 1,024
 * characters (MAX_TEMPLATE_BODY_CHARS; Cloud API error 132005, "hydrated text too long"), as the
 * agent checks when planning: a runtime's payload may not have been.
 */
function templateRefusal(template: TemplateAtSend | null, message: TemplateMessage, payload: unknown): string | null {
  const named = `WhatsApp template "${message.name}" (${message.language})`;
  if (!template) return `${named} is not registered for this creator`;
  if (template.status !== "APPROVED") {
    return `${named} is ${template.status}${template.statusReason ? ` (${template.statusReason})` : ""}: only approved templates may be sent`;
  }
  const expected = variableCount(template.body);
  if (message.parameters.length !== expected) {
    return `${named} has ${expected} variable(s), the message gives ${message.parameters.length}`;
  }
  const filled = fillTemplateBody(template.body, message.parameters);
  if ((payload as { message?: unknown }).message !== filled) {
    return `the message is not ${named}'s body filled with its parameters`;
  }
  const length = Array.from(filled).length;
  if (length > MAX_TEMPLATE_BODY_CHARS) {
    return `${named} is ${length} characters once filled: WhatsApp refuses a body over ${MAX_TEMPLATE_BODY_CHARS}`;
  }
  return null;
}
