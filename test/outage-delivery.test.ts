import { afterAll, beforeAll, expect, it, vi } from "vitest";
import type { PrivatePostgres } from "./support/private-services.js";

// A private PostgreSQL cluster for this file (it is stopped in the middle of sends), made before
// any module reads the configuration.
const postgres = await vi.hoisted(async () => {
  const { startPrivatePostgres } = await import("./support/private-services.js");
  const cluster = await startPrivatePostgres("outage_delivery");
  process.env.DATABASE_URL = cluster.url;
  return cluster;
});

import { db, pool } from "../src/db/client.js";
import { LEASE_REASONS } from "../src/delivery/delivery-store.js";
import {
  type HttpSink,
  makeConsumer,
  makeDeliveryCreator,
  planActions,
  startHttpSink,
  webhookTo,
} from "./support/delivery-fixtures.js";
import { eventually } from "./support/processes.js";
import { type SchedulerProcess, startSchedulerProcess } from "./support/scheduler-process.js";

// Sends whose provider answered while PostgreSQL was away: the scheduler knows each outcome and
// records it once PostgreSQL is back, even past its lease (another scheduler's recovery may have
// taken it for a stopped one meanwhile). No message that went out is recorded FAILED, none goes
// out twice, and the actions not yet started wait, planned, instead of sitting SENDING for a lease.

const ACTIONS = 24;
const children: SchedulerProcess[] = [];
let hooks: HttpSink;
const startScheduler = async () =>
  children.push(
    await startSchedulerProcess(
      { intervalMs: 50, batchSize: 12, concurrency: 4 },
      {
        DATABASE_URL: postgres.url,
        // A lease shorter than the outage: recovery runs on leases that expired while PostgreSQL was away.
        DELIVERY_LEASE_MS: "3000",
        PROVIDER_TIMEOUT_MS: "2500",
        DELIVERY_RATE_WEBHOOK_PER_SECOND: "1000000",
      },
    ),
  );

beforeAll(async () => {
  hooks = await startHttpSink();
}, 60_000);

afterAll(async () => {
  await Promise.all(children.map((scheduler) => scheduler.stop()));
  await hooks.close();
  await db.$disconnect();
  await pool.end().catch(() => {});
  await (postgres as PrivatePostgres).remove();
}, 60_000);

it("records every send answered during a PostgreSQL outage once it is back: none FAILED, none twice", async () => {
  const { creator } = await makeDeliveryCreator();
  const consumer = await makeConsumer(creator.id);
  const planned = await planActions(
    consumer,
    Array.from({ length: ACTIONS }, (_, i) => ({
      channel: "WEBHOOK" as const,
      payload: webhookTo(hooks.url, { index: i }),
      sendAt: new Date(Date.now() + 60_000),
    })),
  );
  // Each answer takes a second: PostgreSQL is stopped while the first sends wait for theirs.
  let firstRequest!: () => void;
  const sending = new Promise<void>((resolve) => {
    firstRequest = resolve;
  });
  hooks.reply = () => {
    firstRequest();
    return { status: 200, body: { ok: true }, delayMs: 1_000 };
  };
  await Promise.all([startScheduler(), startScheduler()]);
  await db.action.updateMany({ where: { creatorId: creator.id }, data: { sendAt: new Date() } });

  await sending;
  await postgres.stop("fast");
  // Longer than the lease: when it comes back, the other scheduler's recovery sees expired leases.
  await new Promise((r) => setTimeout(r, 6_000));
  const duringOutage = hooks.received.length;
  await postgres.start();

  const rows = await eventually(
    async () => {
      const found = await db.action.findMany({ where: { creatorId: creator.id } });
      return found.every((a) => a.status === "SENT") ? found : undefined;
    },
    60_000,
    "every action sent",
  );
  const deliveries = hooks.received.map((r) => r.headers["x-closer-delivery"]);
  console.log(
    `[outage-delivery] ${ACTIONS} actions: ${duringOutage} sent before/while PostgreSQL was away, ` +
      `${deliveries.length} requests in all, all SENT`,
  );
  expect(new Set(deliveries)).toEqual(new Set(planned.map((a) => a.id)));
  expect(deliveries).toHaveLength(ACTIONS);
  expect(rows.filter((a) => a.statusReason === LEASE_REASONS.interrupted)).toEqual([]);
  expect(rows.every((a) => a.attempts === 1)).toBe(true);
  for (const { child } of children) expect(child.exitCode).toBeNull();
}, 120_000);
