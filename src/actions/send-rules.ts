import type { PoolClient } from "pg";
import { z } from "zod";
import type { Channel, ConsentStatus, QuietHoursPolicy } from "../generated/prisma/enums.js";
import { formatTimeOfDay } from "../validation.js";

// The rules checked at send time, in this order: consent on the channel, quiet hours, the
// frequency cap. (The provider's send rate comes last, in the scheduler: a skipped message
// should not spend a token.)

export type FrequencyCapRule = { max: number; windowHours: number };

/** Applies where the creator set no cap of its own: a few messages a day reach a person without spamming them. */
export const DEFAULT_FREQUENCY_CAPS: Partial<Record<Channel, FrequencyCapRule>> = {
  EMAIL: { max: 3, windowHours: 24 },
  WHATSAPP: { max: 3, windowHours: 24 },
};

/** Quiet hours protect a person's evening: they apply to channels that reach one, not to webhooks. */
const PERSONAL_CHANNELS: ReadonlySet<Channel> = new Set<Channel>(["EMAIL", "WHATSAPP"]);

const capRule = z.object({ max: z.number().int().min(0), windowHours: z.number().int().min(1) });

export function frequencyCapFor(creatorCaps: unknown, channel: Channel): FrequencyCapRule | null {
  const own = capRule.safeParse((creatorCaps as Record<string, unknown> | null)?.[channel]);
  return own.success ? own.data : (DEFAULT_FREQUENCY_CAPS[channel] ?? null);
}

export type QuietHours = {
  /** Minutes after local midnight; start after end wraps past midnight, start equal to end means none. */
  start: number;
  end: number;
  timezone: string;
};

const clocks = new Map<string, Intl.DateTimeFormat>();

/** Minutes after midnight on the wall clock of the zone. */
export function localMinuteOfDay(at: Date, timezone: string): number {
  let clock = clocks.get(timezone);
  if (!clock) {
    clock = new Intl.DateTimeFormat("en-GB", {
      timeZone: timezone,
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    clocks.set(timezone, clock);
  }
  const parts = clock.formatToParts(at);
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return part("hour") * 60 + part("minute");
}

function isQuietMinute(minute: number, { start, end }: QuietHours): boolean {
  if (start === end) return false;
  return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}

/** When the quiet hours around `at` end, or null when `at` is outside them. */
export function quietHoursEnd(at: Date, quiet: QuietHours): Date | null {
  const minute = localMinuteOfDay(at, quiet.timezone);
  if (!isQuietMinute(minute, quiet)) return null;
  // Zone offsets are whole minutes, so the local minute starts when the UTC minute does.
  const minuteStart = Math.floor(at.getTime() / 60_000) * 60_000;
  const naive = minuteStart + ((quiet.end - minute + 1440) % 1440) * 60_000;
  // A daylight-saving change in between shifts the wall clock: move by the difference.
  const drift = ((quiet.end - localMinuteOfDay(new Date(naive), quiet.timezone) + 2160) % 1440) - 720;
  const corrected = naive + drift * 60_000;
  return new Date(corrected > at.getTime() ? corrected : naive);
}

export type RuleVerdict =
  | { kind: "send"; creatorName: string }
  | { kind: "skip"; reason: string }
  | { kind: "defer"; until: Date; reason: string };

export type RuleSubject = { id: string; creatorId: string; consumerId: string; channel: Channel };

type SendSettings = {
  creatorName: string;
  creatorTimezone: string;
  consumerTimezone: string | null;
  quietHoursStart: number;
  quietHoursEnd: number;
  quietHoursPolicy: QuietHoursPolicy;
  frequencyCaps: unknown;
};

/**
 * Checks an action against the rules, inside the caller's transaction, which must stay open
 * until the action is marked dispatched:
 * - the consent row is read FOR SHARE, so an unsubscribe committing meanwhile waits for this
 *   transaction and one that committed before is seen;
 * - a capped channel is locked per (consumer, channel), and the count includes sends other
 *   workers have dispatched but not finished, so concurrent workers never exceed the cap.
 */
export async function checkSendRules(client: PoolClient, action: RuleSubject, now: Date): Promise<RuleVerdict> {
  const { rows: consents } = await client.query<{ status: ConsentStatus; source: string }>(
    `SELECT status, source FROM consumer_consents WHERE "consumerId" = $1 AND channel = $2 FOR SHARE`,
    [action.consumerId, action.channel],
  );
  if (consents.length === 0) return { kind: "skip", reason: `no ${action.channel} consent` };
  if (consents[0].status !== "GRANTED") {
    return { kind: "skip", reason: `${action.channel} consent withdrawn (${consents[0].source})` };
  }

  const {
    rows: [settings],
  } = await client.query<SendSettings>(
    `SELECT cr.name AS "creatorName", cr.timezone AS "creatorTimezone", co.timezone AS "consumerTimezone",
            cr."quietHoursStart", cr."quietHoursEnd", cr."quietHoursPolicy", cr."frequencyCaps"
       FROM creators cr JOIN consumers co ON co."creatorId" = cr.id
      WHERE cr.id = $1 AND co.id = $2`,
    [action.creatorId, action.consumerId],
  );

  if (PERSONAL_CHANNELS.has(action.channel)) {
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

  const cap = frequencyCapFor(settings.frequencyCaps, action.channel);
  if (cap) {
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
      `frequency-cap:${action.consumerId}:${action.channel}`,
    ]);
    const {
      rows: [{ recent }],
    } = await client.query<{ recent: number }>(
      `SELECT count(*)::int AS recent FROM actions
        WHERE "consumerId" = $1 AND channel = $2 AND id <> $3
          AND ((status = 'SENT' AND "sentAt" > $4) OR (status = 'SENDING' AND "dispatchedAt" IS NOT NULL))`,
      [action.consumerId, action.channel, action.id, new Date(now.getTime() - cap.windowHours * 3_600_000)],
    );
    if (recent >= cap.max) {
      return {
        kind: "skip",
        reason: `frequency cap reached: ${cap.max} ${action.channel} messages in ${cap.windowHours} h`,
      };
    }
  }

  return { kind: "send", creatorName: settings.creatorName };
}
