import { DateTime } from "luxon";
import { describe, expect, it } from "vitest";
import { localMinuteOfDay, type QuietHours, quietHoursEnd } from "../src/delivery/send-rules.js";

// The end of quiet hours is the first instant outside them, across every 2026 daylight-saving
// transition of a dozen zones, half-hour and 45-minute offsets included. The reference walks the
// clock minute by minute; the rule under test must agree with it everywhere.

const ZONES = [
  "Europe/London",
  "Europe/Paris",
  "America/New_York",
  "America/St_Johns", // -03:30 / -02:30
  "America/Santiago",
  "Australia/Adelaide", // +09:30 / +10:30
  "Australia/Lord_Howe", // a 30-minute daylight-saving shift
  "Pacific/Chatham", // +12:45 / +13:45
  "Pacific/Auckland",
  "Asia/Kathmandu", // +05:45, no daylight saving
  "Asia/Kolkata", // +05:30, no daylight saving
  "Africa/Cairo",
];
const MINUTE = 60_000;

/** Instants in 2026 where the zone's offset changes. */
function transitions(zone: string): number[] {
  const found: number[] = [];
  let at = DateTime.fromISO("2026-01-01T00:00:00Z").toMillis();
  const end = DateTime.fromISO("2027-01-01T00:00:00Z").toMillis();
  const offset = (ms: number) => DateTime.fromMillis(ms, { zone }).offset;
  while (at < end) {
    const next = at + 60 * MINUTE;
    if (offset(next) !== offset(at)) {
      let [lo, hi] = [at, next];
      while (hi - lo > MINUTE) {
        const mid = lo + Math.floor((hi - lo) / MINUTE / 2) * MINUTE;
        if (offset(mid) === offset(lo)) lo = mid;
        else hi = mid;
      }
      found.push(hi);
    }
    at = next;
  }
  return found;
}

/** The first instant outside the quiet hours, walking the clock minute by minute from `at`. */
function reference(at: number, quiet: QuietHours): number | null {
  const quietAt = (ms: number) => {
    const minute = localMinuteOfDay(new Date(ms), quiet.timezone);
    return quiet.start < quiet.end
      ? minute >= quiet.start && minute < quiet.end
      : minute >= quiet.start || minute < quiet.end;
  };
  if (!quietAt(at)) return null;
  let t = Math.floor(at / MINUTE) * MINUTE;
  while (quietAt(t)) t += MINUTE;
  return t;
}

const wrap = (minutes: number) => ((minutes % 1440) + 1440) % 1440;

describe("quiet hours across daylight-saving transitions", () => {
  it("end at the first instant outside the window, in every 2026 transition of 12 zones", () => {
    let checked = 0;
    let transitionsSeen = 0;
    for (const timezone of ZONES) {
      for (const transition of transitions(timezone)) {
        transitionsSeen++;
        // Windows placed around the wall-clock time just before the change.
        const local = localMinuteOfDay(new Date(transition - MINUTE), timezone) + 1;
        for (const [from, to] of [
          [-60, 30],
          [-105, 15],
          [-30, 60],
          [0, 60],
          [30, -60],
        ]) {
          const quiet = { start: wrap(local + from), end: wrap(local + to), timezone };
          for (let at = transition - 4 * 60 * MINUTE; at <= transition + 4 * 60 * MINUTE; at += 20 * MINUTE + 7_000) {
            const expected = reference(at, quiet);
            const actual = quietHoursEnd(new Date(at), quiet)?.getTime() ?? null;
            expect(actual, `${timezone} ${JSON.stringify(quiet)} at ${new Date(at).toISOString()}`).toBe(expected);
            checked++;
          }
        }
      }
    }
    // Zones without daylight saving have no transition in 2026; the others have two or more.
    expect(transitionsSeen).toBeGreaterThanOrEqual(16);
    expect(checked).toBeGreaterThan(2_000);
  });

  it.each([
    ["Europe/London", "00:00", "01:30", "2026-03-29T00:45:00Z", "2026-03-29T01:00:00.000Z"],
    ["Pacific/Chatham", "01:00", "03:00", "2026-09-26T13:30:00Z", "2026-09-26T14:00:00.000Z"],
  ])("in %s, %s-%s, quiet hours at %s end at %s (the reported cases)", (timezone, start, end, at, expected) => {
    const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
    const quiet = { start: minutes(start), end: minutes(end), timezone };
    expect(quietHoursEnd(new Date(at), quiet)?.toISOString()).toBe(expected);
    expect(quietHoursEnd(new Date(expected), quiet)).toBeNull();
  });
});
