import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approveAgentTemplates } from "../scripts/fixtures.js";
import { runAgents } from "../src/agents/agent-run.js";
import { pool } from "../src/db/client.js";
import { useApi } from "./support/api.js";
import { fromGlobalId } from "./support/ids.js";
import { creatorWithAgent, IngestEvents } from "./support/operations.js";

// Agent runs are set-based: the runs the worker has in flight at once share one load, one claim,
// one outcome transaction and one processed mark, whatever their number. The runs here are
// started in one tick, as the worker's concurrent jobs are, with no worker of its own.

const api = useApi();
const sent: string[] = [];
const originalQuery = pg.Client.prototype.query;

beforeAll(() => {
  // Every statement any pooled client sends, by its text.
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const [query] = args as [string | { text: string }];
    sent.push(typeof query === "string" ? query : query.text);
    return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof originalQuery;
});
afterAll(() => {
  pg.Client.prototype.query = originalQuery;
});

/** Consumers by external id, each with a phone of its own (identity rules merge by phone). */
const phones = new Map<string, string>();
const reachable = (externalId: string) => {
  if (!phones.has(externalId)) phones.set(externalId, `+1415555${String(phones.size).padStart(4, "0")}`);
  return {
    externalId,
    phone: phones.get(externalId),
    consents: [{ channel: "WHATSAPP" as const, granted: true, source: "signup_form" }],
  };
};

type Owner = Awaited<ReturnType<typeof creatorWithAgent>>;

/** Ingests one page_view per consumer named, in this order; answers the events' ids. */
async function pageViews(owner: Owner, externalIds: string[]): Promise<string[]> {
  const response = await api.request(
    IngestEvents,
    {
      creatorId: owner.gid,
      events: externalIds.map((externalId) => ({ consumer: reachable(externalId), type: "page_view" })),
    },
    owner.creatorKey,
  );
  const result = response.data?.ingestEvents;
  if (result?.__typename !== "IngestedEvents") throw new Error(`not ingested: ${JSON.stringify(response)}`);
  return result.results.map((r) => fromGlobalId(r.event.id).id);
}

/** Runs the agents on every event at once, as concurrent jobs do; answers what it cost. */
async function runTogether(eventIds: string[]) {
  const from = sent.length;
  await Promise.all(eventIds.map((id) => runAgents(id, true)));
  const statements = sent.slice(from);
  return {
    statements: statements.length,
    transactions: statements.filter((s) => s === "BEGIN").length,
    plans: statements.filter((s) => s.startsWith("INSERT INTO actions")).length,
  };
}

async function finishedRuns(eventIds: string[]) {
  const { rows } = await pool.query<{ status: string; redecided: number | null; processed: boolean }>(
    `SELECT i.status, (i.decision ->> 'redecided')::int AS redecided, e."processedAt" IS NOT NULL AS processed
       FROM agent_invocations i JOIN events e ON e.id = i."eventId"
      WHERE i."eventId" = ANY($1::uuid[])`,
    [eventIds],
  );
  return rows;
}

describe("set-based agent runs", () => {
  it("runs a batch of any size in the same number of statements and one transaction, plus one plan insert per decision that messages", async () => {
    const owner = await creatorWithAgent(api);
    await approveAgentTemplates(owner.creator.id);
    const consumers = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}-${i}`);
    const few = consumers(3, "few");
    const many = consumers(30, "many");

    // First page views: each new consumer is welcomed, so each decision plans one message.
    const fewFirst = await runTogether(await pageViews(owner, few));
    const manyFirst = await runTogether(await pageViews(owner, many));
    expect(fewFirst).toMatchObject({ transactions: 1, plans: 3 });
    expect(manyFirst).toMatchObject({ transactions: 1, plans: 30 });
    expect(manyFirst.statements - manyFirst.plans).toBe(fewFirst.statements - fewFirst.plans);

    // Second page views: already welcomed, nothing more to plan: the same statements for 3 as for 30.
    const fewIds = await pageViews(owner, few);
    const manyIds = await pageViews(owner, many);
    const fewAgain = await runTogether(fewIds);
    const manyAgain = await runTogether(manyIds);
    expect(manyAgain).toEqual(fewAgain);
    expect(manyAgain).toMatchObject({ transactions: 1, plans: 0 });
    // Load, claim, BEGIN, invocations, COMMIT, processed mark.
    expect(manyAgain.statements).toBeLessThanOrEqual(6);

    const runs = await finishedRuns(manyIds);
    expect(runs).toHaveLength(30);
    for (const run of runs) expect(run).toMatchObject({ status: "SKIPPED", processed: true });
  });

  it("decides again, in the same batch's wake, when another event of the consumer planned first: one welcome", async () => {
    const owner = await creatorWithAgent(api);
    await approveAgentTemplates(owner.creator.id);
    const [first, second] = await pageViews(owner, ["twice", "twice"]);
    const cost = await runTogether([first, second]);

    const { rows: actions } = await pool.query<{ channel: string; template: string }>(
      `SELECT a.channel, a.payload ->> 'template' AS template
         FROM actions a JOIN agent_invocations i ON i.id = a."invocationId"
        WHERE i."eventId" = ANY($1::uuid[])`,
      [[first, second]],
    );
    expect(actions).toHaveLength(1);
    expect(actions[0].channel).toBe("WHATSAPP");
    const runs = await finishedRuns([first, second]);
    expect(runs.map((r) => r.status).sort()).toEqual(["COMPLETED", "SKIPPED"]);
    // One of the two was found stale in the shared transaction and decided again after it.
    expect(runs.map((r) => r.redecided ?? 0).sort()).toEqual([0, 1]);
    expect(runs.every((r) => r.processed)).toBe(true);
    // Both decisions in one transaction, then the stale one's second decision in another.
    expect(cost.transactions).toBe(2);
  });
});
