import { Semaphore, withTimeout } from "async-mutex";
import { STAGES } from "../consumers/stage.js";
import type { Reads } from "../db/reads.js";
import { type FieldIssue, ValidationError } from "../errors.js";
import type { ActionStatus, Channel, Stage } from "../generated/prisma/enums.js";
import {
  type AnalyticsRange,
  type ConversionRow,
  conversionRows,
  funnelRows,
  type MessageKind,
  plannedRows,
  readAnalytics,
  sentRows,
} from "./analytics-store.js";

/** The longest range one query may cover: a year, leap day included. */
export const MAX_RANGE_DAYS = 366;
/** The attribution window's bounds, in hours: one hour to 90 days. */
export const MIN_WINDOW_HOURS = 1;
export const MAX_WINDOW_HOURS = 2160;
/** The default attribution window: 7 days. */
export const DEFAULT_WINDOW_HOURS = 168;

/**
 * How many analytics computations one API process runs at once. Each holds one pooled connection
 * for its statements (readAnalytics), so analytics never take more than these of the pool
 * (DATABASE_POOL_SIZE, 10 by default): the rest stay free for ingestion and everything else.
 */
export const MAX_CONCURRENT_ANALYTICS = 2;
/** How long a computation waits for its turn, in milliseconds, before AnalyticsBusyError. */
export const ANALYTICS_WAIT_MS = 5_000;

/** Every analytics computation of this process waited for a turn longer than ANALYTICS_WAIT_MS. */
export class AnalyticsBusyError extends Error {
  constructor() {
    super(`${MAX_CONCURRENT_ANALYTICS} analytics computations were running for ${ANALYTICS_WAIT_MS} ms`);
  }
}

const turns = withTimeout(new Semaphore(MAX_CONCURRENT_ANALYTICS), ANALYTICS_WAIT_MS, new AnalyticsBusyError());

/** The funnel's stages in order (NEW to CONVERTED); LOST and UNSUBSCRIBED stand aside. */
const FUNNEL = STAGES.slice(0, STAGES.indexOf("CONVERTED") + 1);

/** An amount of money in major units of an ISO 4217 currency (e.g. 1200.5 USD). */
export type Money = { currency: string; amount: number };

/**
 * What happened to a set of sent messages, and what they earned. `deliveredRate`, `readRate` and
 * `replyRate` are the counts over `sent` (0..1), null when nothing was sent.
 */
export type MessageOutcomes = {
  sent: number;
  delivered: number;
  read: number;
  replied: number;
  deliveredRate: number | null;
  readRate: number | null;
  replyRate: number | null;
  /** Enrolments in the range attributed to these messages (some may have been sent before the range). */
  conversions: number;
  /** Their known amounts, per currency (by code), in major units. */
  revenue: Money[];
};

/** The analytics of one creator over a range: see analyticsOf. */
export type CreatorAnalytics = AnalyticsRange & {
  funnel: {
    firstSeen: number;
    byStage: { stage: Stage; consumers: number }[];
    reachedAtLeast: { stage: Stage; consumers: number }[];
  };
  messages: { channel: Channel; status: ActionStatus; count: number }[];
  webhooks: { status: ActionStatus; count: number }[];
  channels: (MessageOutcomes & { channel: Channel })[];
  conversions: {
    count: number;
    attributed: number;
    withoutRevenue: number;
    revenue: Money[];
    attributedRevenue: Money[];
  };
  byMessageKind: (MessageOutcomes & MessageKind)[];
};

/** The arguments as given, checked: from < to, at most MAX_RANGE_DAYS apart, the window in its bounds. Raises ValidationError. */
function analyticsRange(from: Date, to: Date, attributionWindowHours: number): AnalyticsRange {
  const issues: FieldIssue[] = [];
  if (to.getTime() <= from.getTime()) issues.push({ path: "to", message: "must be after from" });
  else if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * 86_400_000) {
    issues.push({ path: "to", message: `at most ${MAX_RANGE_DAYS} days after from` });
  }
  if (
    !Number.isInteger(attributionWindowHours) ||
    attributionWindowHours < MIN_WINDOW_HOURS ||
    attributionWindowHours > MAX_WINDOW_HOURS
  ) {
    issues.push({ path: "attributionWindowHours", message: `from ${MIN_WINDOW_HOURS} to ${MAX_WINDOW_HOURS}` });
  }
  if (issues.length > 0) {
    throw new ValidationError(`Invalid input: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues);
  }
  return { from, to, attributionWindowHours };
}

/**
 * A creator's analytics over [from, to) (UTC instants), in four statements on one connection of
 * `reads` (the operation's: the read replica for a query), at most MAX_CONCURRENT_ANALYTICS at once
 * in this process (analytics-store.ts holds the SQL and the exact rules):
 * - funnel: consumers first seen in the range (their row created, i.e. their first event reached
 *   Closer), by current stage; `reachedAtLeast` counts, for each funnel stage, those whose stage is
 *   it or a later one, a consumer who ever enrolled counting as CONVERTED (an opt-out after
 *   enrolling), and LOST or UNSUBSCRIBED ones otherwise only under NEW;
 * - messages: email and WhatsApp actions planned in the range by channel and status; webhooks
 *   (calls to the creator's systems, not messages) apart;
 * - channels and byMessageKind: messages SENT in the range, their outcomes (delivered, read,
 *   replied) until OUTCOME_HORIZON_HOURS after the range, and the enrolments of the range
 *   attributed to them;
 * - conversions: `enrolled` events in the range; each is attributed to the last email or WhatsApp
 *   message SENT to its consumer at or before it, when sent within the attribution window before
 *   it (last touch); its amount is the event's own `amount` and `currency`, else the active
 *   profile's price for its `service`, else unknown (`withoutRevenue`); an amount or price
 *   outside 0..MAX_ENROLMENT_AMOUNT is not one.
 * Raises ValidationError (analyticsRange) on bad arguments, AnalyticsBusyError when no turn came
 * within ANALYTICS_WAIT_MS, AnalyticsTimeoutError when a statement ran too long.
 */
export async function analyticsOf(
  reads: Reads,
  creatorId: string,
  from: Date,
  to: Date,
  attributionWindowHours: number,
): Promise<CreatorAnalytics> {
  const range = analyticsRange(from, to, attributionWindowHours);
  const { funnel, planned, sent, converted } = await turns.runExclusive(() =>
    readAnalytics(reads, async (sql) => ({
      funnel: await funnelRows(sql, creatorId, range),
      planned: await plannedRows(sql, creatorId, range),
      sent: await sentRows(sql, creatorId, range),
      converted: await conversionRows(sql, creatorId, range),
    })),
  );

  const level = (row: { stage: Stage; enrolled: boolean }) =>
    row.enrolled ? FUNNEL.length - 1 : Math.max(0, FUNNEL.indexOf(row.stage));
  const countOf = (rows: { consumers: number }[]) => rows.reduce((sum, r) => sum + r.consumers, 0);

  // Every kind that sent in the range or earned a conversion in it, keyed by its fields.
  const tallies = new Map<string, KindTally>();
  const tallyOf = (kind: MessageKind) => {
    const key = JSON.stringify([kind.sender, kind.channel, kind.rule, kind.template, kind.whatsAppTemplate]);
    const tally = tallies.get(key) ?? {
      kind: {
        sender: kind.sender,
        channel: kind.channel,
        rule: kind.rule,
        template: kind.template,
        whatsAppTemplate: kind.whatsAppTemplate,
      },
      sent: 0,
      delivered: 0,
      read: 0,
      replied: 0,
      conversions: 0,
      earned: [],
    };
    tallies.set(key, tally);
    return tally;
  };
  for (const row of sent) {
    Object.assign(tallyOf(row), { sent: row.sent, delivered: row.delivered, read: row.read, replied: row.replied });
  }
  const attributed = converted.filter((r): r is ConversionRow & MessageKind => r.sender !== null);
  for (const row of attributed) {
    const tally = tallyOf(row);
    tally.conversions += row.conversions;
    if (row.currency !== null) tally.earned.push({ currency: row.currency, amount: row.amount });
  }
  const all = [...tallies.values()];
  const conversions = (rows: ConversionRow[]) => rows.reduce((sum, r) => sum + r.conversions, 0);

  return {
    ...range,
    funnel: {
      firstSeen: countOf(funnel),
      byStage: STAGES.map((stage) => ({ stage, consumers: countOf(funnel.filter((r) => r.stage === stage)) })),
      reachedAtLeast: FUNNEL.map((stage, i) => ({ stage, consumers: countOf(funnel.filter((r) => level(r) >= i)) })),
    },
    messages: planned.filter((r) => r.channel !== "WEBHOOK"),
    webhooks: planned.filter((r) => r.channel === "WEBHOOK").map(({ status, count }) => ({ status, count })),
    channels: (["EMAIL", "WHATSAPP"] as const).map((channel) => ({
      channel,
      ...outcomes(all.filter((t) => t.kind.channel === channel)),
    })),
    conversions: {
      count: conversions(converted),
      attributed: conversions(attributed),
      withoutRevenue: conversions(converted.filter((r) => r.currency === null)),
      revenue: sumByCurrency(converted),
      attributedRevenue: sumByCurrency(attributed),
    },
    byMessageKind: all.map((tally) => ({ ...tally.kind, ...outcomes([tally]) })),
  };
}

/** One kind's counts as read, and its enrolments' known amounts. */
type KindTally = {
  kind: MessageKind;
  sent: number;
  delivered: number;
  read: number;
  replied: number;
  conversions: number;
  earned: Money[];
};

/** The outcomes of the messages of some kinds together. */
function outcomes(tallies: KindTally[]): MessageOutcomes {
  const total = (field: "sent" | "delivered" | "read" | "replied" | "conversions") =>
    tallies.reduce((sum, t) => sum + t[field], 0);
  const sent = total("sent");
  const rate = (count: number) => (sent === 0 ? null : count / sent);
  return {
    sent,
    delivered: total("delivered"),
    read: total("read"),
    replied: total("replied"),
    deliveredRate: rate(total("delivered")),
    readRate: rate(total("read")),
    replyRate: rate(total("replied")),
    conversions: total("conversions"),
    revenue: sumByCurrency(tallies.flatMap((t) => t.earned)),
  };
}

/**
 * Amounts added up per currency (null: unknown, left out), sorted by currency code. Rounded to 6
 * decimals: each part is an exact sum from PostgreSQL, and adding them as floats must not show
 * 0.30000000000000004. Finite: each part is below 1e19 (conversionRows bounds every amount).
 */
function sumByCurrency(amounts: { currency: string | null; amount: number }[]): Money[] {
  const sums = new Map<string, number>();
  for (const { currency, amount } of amounts) {
    if (currency !== null) sums.set(currency, (sums.get(currency) ?? 0) + amount);
  }
  return [...sums]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, amount]) => ({ currency, amount: Math.round(amount * 1e6) / 1e6 }));
}
