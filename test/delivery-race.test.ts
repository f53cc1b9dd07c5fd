import { afterAll, beforeAll, expect, it } from "vitest";

import { db, pool } from "../src/db/client.js";
import { type HttpSink, planWebhooks, startHttpSink } from "./support/delivery-fixtures.js";
import { eventually } from "./support/processes.js";
import { type SchedulerProcess, signerOf, startSchedulerProcess } from "./support/scheduler-process.js";

// Two scheduler processes, each with its own pool and Redis connections, race over the same
// due actions. Each signs its webhooks with its own secret, so the receiver can tell them apart.

const SECRETS = { a: "race-secret-of-scheduler-a", b: "race-secret-of-scheduler-b" } as const;
const ACTIONS = 200;

const signer = (request: HttpSink["received"][number]) => signerOf(request, SECRETS);

let hooks: HttpSink;
const children: SchedulerProcess[] = [];

beforeAll(async () => {
  hooks = await startHttpSink();
  const start = (secret: string) =>
    startSchedulerProcess(
      { intervalMs: 5, batchSize: 5 },
      { WEBHOOK_SIGNING_SECRET: secret, DELIVERY_CONCURRENCY: "8", DELIVERY_RATE_WEBHOOK_PER_SECOND: "1000000" },
    );
  children.push(...(await Promise.all([start(SECRETS.a), start(SECRETS.b)])));
});

/** Stops the scheduler processes; each finishes the sends it has in flight first. */
async function stopSchedulers(): Promise<void> {
  await Promise.all(children.map((scheduler) => scheduler.stop()));
}

afterAll(async () => {
  await stopSchedulers();
  await hooks.close();
  await db.$disconnect();
  await pool.end();
});

it(`sends each of ${ACTIONS} due actions exactly once while two scheduler processes race for them`, async () => {
  // Answers are held until both processes have sent something: neither can finish the whole
  // batch alone, so the test proves they really ran side by side.
  let release: () => void = () => {};
  const bothSending = new Promise<void>((resolve) => {
    release = resolve;
  });
  const seen = new Set<keyof typeof SECRETS | null>();
  hooks.reply = async (request) => {
    seen.add(signer(request));
    if (seen.has("a") && seen.has("b")) release();
    await bothSending;
    return { status: 200, body: { ok: true } };
  };
  const due = new Date(Date.now() - 1000);
  const { creator, planned } = await planWebhooks({ consumers: 10, actions: ACTIONS, url: hooks.url, sendAt: due });

  await eventually(
    async () => ((await db.action.count({ where: { status: "SENT" } })) === ACTIONS ? true : undefined),
    30_000,
    "every action sent",
  );
  await stopSchedulers();

  const deliveries = hooks.received.map((r) => r.headers["x-closer-delivery"]);
  expect(deliveries).toHaveLength(ACTIONS);
  expect(new Set(deliveries)).toEqual(new Set(planned.map((a) => a.id)));
  const signers = hooks.received.map(signer);
  expect(signers.filter((s) => s === null)).toHaveLength(0);
  expect(signers.filter((s) => s === "a").length).toBeGreaterThan(0);
  expect(signers.filter((s) => s === "b").length).toBeGreaterThan(0);
  const actions = await db.action.findMany({ where: { creatorId: creator.id } });
  expect(actions.every((a) => a.status === "SENT" && a.attempts === 1 && a.latenessMs !== null)).toBe(true);
});
