import { type ChildProcess, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it, vi } from "vitest";

vi.hoisted(() => {
  // This file's own database, created in beforeAll (see createFileDatabase).
  process.env.DATABASE_URL = `${process.env.DATABASE_URL}_delivery_race`;
});

import { db, pool } from "../src/db/client.js";
import {
  createFileDatabase,
  dropFileDatabase,
  type HttpSink,
  makeConsumer,
  makeDeliveryCreator,
  planActions,
  startHttpSink,
  webhookTo,
} from "./support/delivery-fixtures.js";
import { eventually } from "./support/processes.js";

// Two scheduler processes, each with its own pool and Redis connections, race over the same
// due actions. Each signs its webhooks with its own secret, so the receiver can tell them apart.

const SECRETS = { a: "race-secret-of-scheduler-a", b: "race-secret-of-scheduler-b" } as const;
type Scheduler = keyof typeof SECRETS;
const ACTIONS = 200;

const schedulerModule = fileURLToPath(new URL("../src/actions/scheduler.ts", import.meta.url));

/** A child process running startScheduler as the worker does; it says "ready" once started. */
function startSchedulerProcess(secret: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      `const { startScheduler } = await import(${JSON.stringify(schedulerModule)});
       const scheduler = startScheduler({ intervalMs: 5, batchSize: 5 });
       process.once("SIGTERM", async () => { await scheduler.stop(); process.exit(0); });
       console.log("ready");`,
    ],
    {
      env: {
        ...process.env,
        WEBHOOK_SIGNING_SECRET: secret,
        DELIVERY_CONCURRENCY: "8",
        DELIVERY_RATE_WEBHOOK_PER_SECOND: "1000000",
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`scheduler process exited with ${code} before it was ready`)));
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) resolve(child);
    });
  });
}

function signerOf(request: HttpSink["received"][number]): Scheduler | null {
  const signed = `${request.headers["x-closer-timestamp"]}.${request.body}`;
  const signature = request.headers["x-closer-signature"];
  for (const [name, secret] of Object.entries(SECRETS)) {
    if (signature === `sha256=${createHmac("sha256", secret).update(signed).digest("hex")}`) return name as Scheduler;
  }
  return null;
}

let hooks: HttpSink;
const children: ChildProcess[] = [];

beforeAll(async () => {
  await createFileDatabase();
  hooks = await startHttpSink();
  children.push(...(await Promise.all([startSchedulerProcess(SECRETS.a), startSchedulerProcess(SECRETS.b)])));
});

/** Stops the scheduler processes; each finishes the sends it has in flight first. */
async function stopSchedulers(): Promise<void> {
  await Promise.all(
    children.map((child) =>
      child.exitCode === null
        ? new Promise((resolve) => {
            child.once("exit", resolve);
            child.kill("SIGTERM");
          })
        : null,
    ),
  );
}

afterAll(async () => {
  await stopSchedulers();
  await hooks.close();
  await db.$disconnect();
  await pool.end();
  await dropFileDatabase();
});

it(`sends each of ${ACTIONS} due actions exactly once while two scheduler processes race for them`, async () => {
  // Answers are held until both processes have sent something: neither can finish the whole
  // batch alone, so the test proves they really ran side by side.
  let release: () => void = () => {};
  const bothSending = new Promise<void>((resolve) => {
    release = resolve;
  });
  const seen = new Set<Scheduler | null>();
  hooks.reply = async (request) => {
    seen.add(signerOf(request));
    if (seen.has("a") && seen.has("b")) release();
    await bothSending;
    return { status: 200, body: { ok: true } };
  };
  const { creator } = await makeDeliveryCreator();
  const consumers = await Promise.all(Array.from({ length: 10 }, () => makeConsumer(creator.id)));
  const due = new Date(Date.now() - 1000);
  const planned: { id: string }[] = [];
  for (const [c, consumer] of consumers.entries()) {
    const specs = Array.from({ length: ACTIONS / consumers.length }, (_, i) => ({
      channel: "WEBHOOK" as const,
      payload: webhookTo(hooks.url, { consumer: c, index: i }),
      sendAt: due,
      priority: i % 3,
    }));
    planned.push(...(await planActions(consumer, specs)));
  }

  await eventually(
    async () => ((await db.action.count({ where: { status: "SENT" } })) === ACTIONS ? true : undefined),
    30_000,
    "every action sent",
  );
  await stopSchedulers();

  const deliveries = hooks.received.map((r) => r.headers["x-closer-delivery"]);
  expect(deliveries).toHaveLength(ACTIONS);
  expect(new Set(deliveries)).toEqual(new Set(planned.map((a) => a.id)));
  const signers = hooks.received.map(signerOf);
  expect(signers.filter((s) => s === null)).toHaveLength(0);
  expect(signers.filter((s) => s === "a").length).toBeGreaterThan(0);
  expect(signers.filter((s) => s === "b").length).toBeGreaterThan(0);
  const actions = await db.action.findMany({ where: { creatorId: creator.id } });
  expect(actions.every((a) => a.status === "SENT" && a.attempts === 1 && a.latenessMs !== null)).toBe(true);
});
