import { afterEach, describe, expect, it, vi } from "vitest";
import { approveAgentTemplates } from "../scripts/fixtures.js";
import { runAgents } from "../src/agents/agent-run.js";
import { pool } from "../src/db/client.js";
import { cancelPlannedMessages } from "../src/delivery/delivery-store.js";
import { makeEventPartitions, monthStart } from "../src/events/event-partition-store.js";
import { MONTHS_AHEAD, maintainEventPartitions } from "../src/events/event-partitions.js";
import { ingestEvents } from "../src/events/ingest.js";
import { useApi } from "./support/api.js";
import { creatorWithAgent } from "./support/operations.js";

// Event retention (EVENT_RETENTION_DAYS, at least a year) drops whole months of events with their
// agent runs, and must change no decision: the agent's messages outlive their runs, so what was
// said to a consumer stays known. A consumer welcomed more than a year ago is not welcomed again
// once the month of that welcome is dropped, as one whose month is kept is not.

const api = useApi();
const DAY_MS = 24 * 3_600_000;

afterEach(() => {
  vi.useRealTimers();
});

const reachable = (externalId: string, n: number) => ({
  externalId,
  phone: `+1415555${String(n).padStart(4, "0")}`,
  consents: [{ channel: "WHATSAPP" as const, granted: true, source: "signup_form" }],
});

async function welcomesPlannedOn(eventId: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM actions a JOIN agent_invocations i ON i.id = a."invocationId"
      WHERE i."eventId" = $1 AND a.payload ->> 'template' LIKE '%welcome%'`,
    [eventId],
  );
  return rows[0].n;
}

/** A page view ingested as if received at `at` (the clock faked for ingestion only). */
async function pageView(creatorId: string, externalId: string, n: number, at?: Date): Promise<string> {
  if (at) {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(at);
  }
  try {
    const [result] = await ingestEvents(creatorId, [{ consumer: reachable(externalId, n), type: "page_view" }], null);
    return result.event.id;
  } finally {
    vi.useRealTimers();
  }
}

// In this order: the second test drops the current month (its clock is 14 months on), which this
// process's ingestion, having made that month itself, does not expect (no real retention reaches
// the current month).
describe("retention and the agents' messages", () => {
  it("keeps an agent's message still waiting when its run is dropped the agent's: a hand-off cancels it", async () => {
    const owner = await creatorWithAgent(api);
    await approveAgentTemplates(owner.creator.id);
    const eventId = await pageView(owner.creator.id, "waiting", 3);
    await runAgents(eventId, true, new Date());
    const { rows: planned } = await pool.query<{ id: string; consumerId: string; channel: "WHATSAPP" }>(
      `SELECT a.id, a."consumerId", a.channel FROM actions a JOIN agent_invocations i ON i.id = a."invocationId"
        WHERE i."eventId" = $1 AND a.status = 'PLANNED'`,
      [eventId],
    );
    expect(planned).toHaveLength(1);

    // What retention's delete of the month does to the event: its run goes, the message stays.
    await pool.query(`DELETE FROM events WHERE id = $1`, [eventId]);
    const { rows: kept } = await pool.query(`SELECT status, "invocationId", "sentBy" FROM actions WHERE id = $1`, [
      planned[0].id,
    ]);
    expect(kept).toEqual([{ status: "PLANNED", invocationId: null, sentBy: null }]);

    // A hand-off to a person cancels the agents' planned messages, this one included.
    const cancelled = await cancelPlannedMessages(pool, [
      { consumerId: planned[0].consumerId, channel: planned[0].channel, reason: "handed off", agentsOnly: true },
    ]);
    expect(cancelled.map((c) => c.id)).toEqual([planned[0].id]);
  }, 60_000);

  it("does not welcome a consumer again once retention dropped the month of their first welcome", async () => {
    const owner = await creatorWithAgent(api);
    await approveAgentTemplates(owner.creator.id);
    const now = new Date();
    const later = new Date(monthStart(now, 14).getTime() + 10 * DAY_MS);
    await makeEventPartitions(now, monthStart(later, MONTHS_AHEAD));

    // Two consumers, each welcomed on their first page view today.
    const firstControl = await pageView(owner.creator.id, "control", 1);
    const firstLoyal = await pageView(owner.creator.id, "loyal", 2);
    await runAgents(firstControl, true, now);
    await runAgents(firstLoyal, true, now);
    expect(await welcomesPlannedOn(firstControl)).toBe(1);
    expect(await welcomesPlannedOn(firstLoyal)).toBe(1);
    // Sent that day, as the scheduler does.
    await pool.query(`UPDATE actions SET status = 'SENT', "sentAt" = $2 WHERE "creatorId" = $1`, [
      owner.creator.id,
      now,
    ]);

    // 14 months later, without any drop: the control is not welcomed again (once per lifetime).
    const againControl = await pageView(owner.creator.id, "control", 1, later);
    await runAgents(againControl, true, later);
    expect(await welcomesPlannedOn(againControl)).toBe(0);

    // Retention of a year (the minimum the config allows) drops today's month...
    const upkeep = await maintainEventPartitions({ now: later, retentionDays: 365 });
    expect(upkeep.dropped.length).toBeGreaterThan(0);

    // ...and the loyal consumer, whose welcome was in it, is not welcomed again either.
    const againLoyal = await pageView(owner.creator.id, "loyal", 2, later);
    await runAgents(againLoyal, true, later);
    expect(await welcomesPlannedOn(againLoyal), "a second welcome after retention").toBe(0);
  }, 60_000);
});
