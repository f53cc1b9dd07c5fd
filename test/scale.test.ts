import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, rm, stat, symlink, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { makeActiveProfile } from "../scripts/fixtures.js";
import { heapLimitArguments } from "../scripts/heap-limit.js";
import { db } from "../src/db/client.js";
import { LEASE_REASONS } from "../src/delivery/delivery-store.js";
import { queuePrefix } from "../src/queues.js";
import type { EventInput } from "./generated/graphql.js";
import { requestAt } from "./support/api.js";
import { makeDeliveryCreator, type SmtpSink, startSmtpSink } from "./support/delivery-fixtures.js";
import { fromGlobalId } from "./support/ids.js";
import { AgentDecisions, DeployAgent, IngestEvent } from "./support/operations.js";
import { type PrivateRedisCluster, startPrivateRedisCluster } from "./support/private-services.js";
import { eventually, freePort, stopProcess, waitForHttp } from "./support/processes.js";
import { subscribeSse } from "./support/sse.js";

// Closer beyond one machine (issue 17): two API processes and two workers, each a compiled process
// of its own as `npm start` runs them, on a Redis Cluster of this file's own (3 masters, 3
// replicas) and this file's database, sending through a local SMTP server. Consumers' page views
// go to both APIs under steady load, with a decision feed open on each API. Mid-load one API and
// one worker are SIGKILLed (the client sends what failed again, under the same idempotency key, to
// the API left), then the master holding the queues fails over to its replica. Once everything has
// drained: every event stored once and run once, every consumer welcomed once, nothing sent twice
// or left sending; both feeds heard every decision made before the kills, whichever API took the
// event and whichever worker ran it; the survivor's feed is live after the failover. The figures
// go to the log (`scale figures:`).

/** Every TICK_MS a new consumer's first page view and the previous consumer's second, to each API in turn. */
const TICK_MS = 150;
/** How long the load runs before the kills, between the kills and the failover, and after the failover. */
const PHASE_MS = { before: 6_000, killed: 3_000, after: 4_000 };
/** Events of new consumers sent to the surviving API once the load is over: their decisions must reach its feed. */
const LAST_EVENTS = 3;

/** Settings of the four processes beyond the cluster, the database and the ports. */
const CHILD_SETTINGS = {
  HOST: "127.0.0.1",
  LOG_LEVEL: "warn",
  RATE_LIMIT_MAX: "100000",
  // A killed worker's jobs go back to the queue once their locks lapse (a live worker renews its
  // locks every half lock), and its claimed sends once their lease does (above the provider
  // timeout, as the configuration requires): seconds here, not production's 30 s and 5 min.
  WORKER_LOCK_DURATION_MS: "5000",
  WORKER_STALLED_INTERVAL_MS: "1000",
  DELIVERY_LEASE_MS: "5000",
  PROVIDER_TIMEOUT_MS: "3000",
  // Retries, the dispatch sweeper and the scheduler's polling at a test's pace.
  AGENT_RETRY_DELAY_MS: "200",
  DELIVERY_RETRY_DELAY_MS: "500",
  DISPATCH_SWEEP_INTERVAL_MS: "500",
  SCHEDULER_INTERVAL_MS: "250",
};

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * Copies the compiled build (dist/, made by `npm install`) into `into`, beside a link to the
 * checkout's node_modules and a package.json making its files ES modules: a build started meanwhile
 * (supervisor.test.ts builds, so may a developer) removes dist/ first, and a process started from
 * it then would find no code. A build is complete once its last step (the ops page) is there; the
 * copy is kept when that step's output is the same after the copy as before it.
 */
async function copyBuild(into: string): Promise<void> {
  await symlink(join(root, "node_modules"), join(into, "node_modules"));
  await writeFile(join(into, "package.json"), JSON.stringify({ type: "module" }));
  const lastStep = join(root, "dist/src/ops/page");
  await eventually(
    async () => {
      const before = await stat(lastStep).catch(() => null);
      if (!before) return undefined;
      await rm(join(into, "dist"), { recursive: true, force: true });
      const copied = await cp(join(root, "dist"), join(into, "dist"), { recursive: true }).then(
        () => true,
        () => false,
      );
      const after = await stat(lastStep).catch(() => null);
      return copied && after?.ino === before.ino && after.ctimeMs === before.ctimeMs ? true : undefined;
    },
    60_000,
    "a complete build of dist/ copied",
    500,
  );
}

/** One of Closer's processes, its base URL (the API's, or the worker's metrics server) and the last of its output. */
type Part = { name: string; child: ChildProcess; url: string; output: string[] };

let build: string | undefined;
let cluster: PrivateRedisCluster | undefined;
let sink: SmtpSink | undefined;
/** The API processes, then the workers; the first of each survives. */
const apis: Part[] = [];
const workers: Part[] = [];

function startPart(name: string, entry: string, port: number, env: Record<string, string>): Part {
  const child = spawn(process.execPath, [...heapLimitArguments(), join(build as string, "dist", entry)], {
    env: { ...process.env, ...CHILD_SETTINGS, ...env, CLOSER_PROCESS: name },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    output.splice(0, output.length - 100);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return { name, child, url: `http://127.0.0.1:${port}`, output };
}

/** What the processes printed, for a failure's message. */
function printed(): string {
  return [...apis, ...workers]
    .map(
      ({ name, child, output }) =>
        `--- ${name} (${child.signalCode ?? child.exitCode ?? "running"}):\n${output.join("")}`,
    )
    .join("\n");
}

beforeAll(async () => {
  build = await mkdtemp(join(tmpdir(), "closer-scale-"));
  // All settled before going on, so that afterAll finds whatever was started, even on a failure.
  const setup = await Promise.allSettled([
    startPrivateRedisCluster().then((started) => {
      cluster = started;
    }),
    startSmtpSink().then((started) => {
      sink = started;
    }),
    copyBuild(build),
  ]);
  for (const step of setup) if (step.status === "rejected") throw step.reason;
  const shared = { REDIS_URL: (cluster as PrivateRedisCluster).url, SMTP_URL: (sink as SmtpSink).url };
  for (const i of [0, 1]) {
    const apiPort = await freePort();
    apis.push(startPart(`closer-api-${i}`, "src/server.js", apiPort, { ...shared, PORT: String(apiPort) }));
    const metricsPort = await freePort();
    workers.push(
      startPart(`closer-worker-${i}`, "worker/main.js", metricsPort, {
        ...shared,
        WORKER_METRICS_PORT: String(metricsPort),
      }),
    );
  }
  try {
    await Promise.all([
      ...apis.map((api) => waitForHttp(`${api.url}/ready`)),
      ...workers.map((worker) => waitForHttp(`${worker.url}/health`)),
    ]);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${printed()}`);
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([...apis, ...workers].map((part) => stopProcess(part.child, 5_000)));
  await sink?.close();
  await cluster?.remove();
  if (build) {
    // The link first, so that removing the copy cannot reach the checkout's node_modules.
    await unlink(join(build, "node_modules")).catch(() => {});
    await rm(build, { recursive: true, force: true });
  }
}, 60_000);

/** Agent runs a worker has completed, from its metrics. */
async function runsOf(worker: Part): Promise<number> {
  const metrics = await (await fetch(`${worker.url}/metrics`)).text();
  const line = metrics
    .split("\n")
    .find(
      (l) =>
        l.startsWith("closer_queue_jobs_processed_total{") &&
        l.includes('queue="agent-runs"') &&
        l.includes('outcome="completed"'),
    );
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

async function kill(part: Part): Promise<void> {
  if (part.child.exitCode !== null || part.child.signalCode !== null) return;
  const exited = new Promise((resolve) => part.child.once("exit", resolve));
  part.child.kill("SIGKILL");
  await exited;
}

/** How many times each value occurs. */
function countBy(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}

/** When an event was sent: the load's phases, then the events sent once it is over. */
type Phase = "before" | "pre-kill" | "killed" | "failover" | "after" | "last";

/** One event as the client sent it: its answer's event id once an API accepted it. */
type Sent = {
  key: string;
  input: EventInput;
  phase: Phase;
  /** The API it went to first. */
  target: number;
  tries: number;
  eventId?: string;
  acceptedBy?: number;
  error?: string;
  done: Promise<void>;
};

describe("two APIs and two workers on a Redis Cluster", () => {
  it("lose no event and run and send nothing twice when an API and a worker are killed and a master fails over under load", async () => {
    onTestFailed(() => console.error(`what Closer's processes printed:\n${printed()}`));
    const redis = cluster as PrivateRedisCluster;
    const smtp = sink as SmtpSink;
    // A creator without quiet hours whose agent welcomes a newly interested consumer at once, and
    // never follows up here: each consumer is due exactly one message.
    const owner = await makeDeliveryCreator();
    const creatorId = owner.creator.id;
    await makeActiveProfile(creatorId);
    const deployed = await requestAt(
      `${apis[0].url}/graphql`,
      DeployAgent,
      { input: { creatorId: owner.gid, tunables: { welcomeDelayMinutes: 0, serviceViewsForFollowUp: 50 } } },
      owner.creatorKey,
    );
    expect(deployed.data?.deployAgent.__typename).toBe("Agent");

    const openFeed = (api: Part) =>
      subscribeSse(`${api.url}/graphql`, AgentDecisions, { creatorId: owner.gid }, owner.creatorKey);
    const feeds = await Promise.all(apis.map(openFeed));
    /** The events whose decisions a feed has heard (global ids). */
    const heardBy = (feed: (typeof feeds)[number]) =>
      new Set(feed.received.map((m) => m.data?.agentDecisions?.event.id));
    const unheard = (feed: (typeof feeds)[number], ids: string[]) => {
      const heard = heardBy(feed);
      return ids.filter((id) => !heard.has(id));
    };

    const run = randomBytes(3).toString("hex");
    const alive = [true, true];
    /** The client's requests under way to each API. */
    const inFlight = [0, 0];
    /** Set when the test ends: sends still failing stop trying. */
    let over = false;
    const sent: Sent[] = [];
    let phase: Phase = "before";

    /** Sends until an API accepts, for up to 20 s: again under the same key, to the API that is left (the first). */
    async function ingest(item: Sent): Promise<void> {
      const giveUpAt = Date.now() + 20_000;
      let target = item.target;
      for (;;) {
        if (!alive[target]) target = 0;
        item.tries++;
        const to = target;
        inFlight[to]++;
        try {
          const answer = await requestAt(
            `${apis[to].url}/graphql`,
            IngestEvent,
            { creatorId: owner.gid, event: item.input },
            owner.ingestKey,
          ).finally(() => inFlight[to]--);
          const ingested = answer.data?.ingestEvent;
          if (answer.status === 200 && ingested?.__typename === "IngestedEvent") {
            item.eventId = ingested.event.id;
            item.acceptedBy = target;
            return;
          }
          item.error = `${answer.status} ${JSON.stringify(answer.errors ?? ingested)}`;
        } catch (error) {
          item.error = String(error);
        }
        if (over || Date.now() > giveUpAt) return;
        target = 0;
        await sleep(250);
      }
    }

    function send(consumer: string, visit: 1 | 2, target: number): void {
      const item: Sent = {
        key: `scale-${consumer}-visit-${visit}`,
        phase,
        target: alive[target] ? target : 0,
        tries: 0,
        input: {
          type: "page_view",
          idempotencyKey: `scale-${consumer}-visit-${visit}`,
          consumer: {
            externalId: consumer,
            email: `${consumer}@example.com`,
            consents: [{ channel: "EMAIL", granted: true, source: "signup_form" }],
          },
          payload: { url: visit === 1 ? "/programs/sprint" : "/programs/sprint/faq", service: "Leadership Sprint" },
        },
        done: Promise.resolve(),
      };
      item.done = ingest(item);
      sent.push(item);
    }

    const consumers: string[] = [];
    function newConsumer(target: number): void {
      const consumer = `c${consumers.length}-${run}`;
      consumers.push(consumer);
      send(consumer, 1, target);
    }
    let loading = true;
    const load = (async () => {
      while (loading) {
        const target = consumers.length % 2;
        const previous = consumers.at(-1);
        newConsumer(target);
        // The previous consumer's second visit, on the other API than its first: the two workers
        // may run one consumer's events at once.
        if (previous) send(previous, 2, target);
        await sleep(TICK_MS);
      }
    })();

    try {
      await sleep(PHASE_MS.before);
      phase = "pre-kill";
      // Both feeds hear every decision of the events sent so far, whichever API took them and
      // whichever worker ran them (both ran some).
      const before = sent.filter((s) => s.phase === "before");
      await Promise.all(before.map((s) => s.done));
      expect(before.filter((s) => !s.eventId).map((s) => `${s.key}: ${s.error}`)).toEqual([]);
      const beforeIds = before.map((s) => s.eventId as string);
      await eventually(
        async () => (feeds.every((feed) => unheard(feed, beforeIds).length === 0) ? true : undefined),
        30_000,
        "the decisions of the events sent before the kills heard on both feeds",
        100,
      ).catch(() => {});
      expect(feeds.map((feed) => unheard(feed, beforeIds))).toEqual([[], []]);
      const runsBeforeKills = await Promise.all(workers.map(runsOf));
      expect(Math.min(...runsBeforeKills), `runs by worker: ${runsBeforeKills}`).toBeGreaterThan(0);

      for (const { name, child } of [...apis, ...workers]) expect(child.exitCode ?? child.signalCode, name).toBeNull();
      // The API is killed while a request of the client's is under way to it, when one comes within
      // a few ticks: the client then sends that event again, to the API left.
      const inFlightUntil = Date.now() + 10 * TICK_MS;
      while (inFlight[1] === 0 && Date.now() < inFlightUntil) await sleep(1);
      alive[1] = false;
      phase = "killed";
      const killedAt = Date.now();
      await Promise.all([kill(apis[1]), kill(workers[1])]);

      await sleep(PHASE_MS.killed);
      phase = "failover";
      const shard = await redis.shardOf(queuePrefix());
      const failoverStartedAt = Date.now();
      await redis.failover(shard.replica);
      const failedOverAt = Date.now();
      phase = "after";
      expect(await redis.shardOf(queuePrefix())).toEqual({ master: shard.replica, replica: shard.master });

      await sleep(PHASE_MS.after);
      loading = false;
      await load;
      const loadEndedAt = Date.now();
      phase = "last";
      for (let i = 0; i < LAST_EVENTS; i++) newConsumer(0);
      await Promise.all(sent.map((s) => s.done));
      expect(sent.filter((s) => !s.eventId).map((s) => `${s.key}: ${s.error}`)).toEqual([]);

      // Drained: every action is sent or settled otherwise, every event stored is run (the sweeper
      // enqueues those whose jobs were lost), and no event came for a second: a mail's delivery
      // outcome is stored just after its SENT mark (best effort: not by a worker killed between).
      let stored = { count: -1, since: 0 };
      const drained = await eventually(
        async () => {
          const [events, unsettled] = await Promise.all([
            db.event.findMany({
              where: { creatorId },
              select: { id: true, idempotencyKey: true, processedAt: true, failedAt: true },
            }),
            db.action.count({ where: { creatorId, status: { in: ["PLANNED", "SENDING"] } } }),
          ]);
          const settled = unsettled === 0 && events.every((e) => e.processedAt || e.failedAt);
          // Since when this state has held: drained from then on, once it has held a second.
          if (!settled || events.length !== stored.count) stored = { count: events.length, since: Date.now() };
          return settled && Date.now() - stored.since >= 1_000 ? { at: stored.since, events } : undefined;
        },
        60_000,
        "every event run and every action settled",
        100,
      );

      // Each event the client sent is stored once: the one its answer named, whichever API answered.
      const storedByKey = new Map<string, string[]>();
      for (const { id, idempotencyKey: key } of drained.events) {
        if (key?.startsWith("scale-")) storedByKey.set(key, [...(storedByKey.get(key) ?? []), id]);
      }
      expect([...storedByKey.keys()].sort()).toEqual(sent.map((s) => s.key).sort());
      expect(
        sent.filter((s) => {
          const stored = storedByKey.get(s.key) ?? [];
          return stored.length !== 1 || stored[0] !== fromGlobalId(s.eventId as string).id;
        }),
      ).toEqual([]);
      // Every event stored (the delivery outcomes too) is processed, with one run of the agent.
      expect(drained.events.filter((e) => e.failedAt)).toEqual([]);
      const storedIds = new Set(drained.events.map((e) => e.id));
      const invocations = (
        await db.agentInvocation.findMany({
          where: { creatorId },
          select: { eventId: true, consumerId: true, status: true, reason: true },
        })
      ).filter((i) => storedIds.has(i.eventId));
      const runsByEvent = countBy(invocations.map((i) => i.eventId));
      expect(drained.events.filter((e) => runsByEvent.get(e.id) !== 1)).toEqual([]);
      expect(invocations.filter((i) => i.status !== "COMPLETED" && i.status !== "SKIPPED")).toEqual([]);

      // One consumer per person, each welcomed once; every welcome sent once, or failed as
      // interrupted when its worker was killed during the provider call (never sent twice).
      const [people, actions] = await Promise.all([
        db.consumer.findMany({ where: { creatorId }, select: { id: true } }),
        db.action.findMany({
          where: { creatorId },
          select: { id: true, consumerId: true, status: true, statusReason: true, payload: true },
        }),
      ]);
      expect(people.length).toBe(consumers.length);
      // A consumer welcomed other than once, with its actions' statuses and its decisions.
      const welcomedOtherThanOnce = people
        .map((p) => ({
          consumer: p.id,
          welcomes: actions.filter((a) => a.consumerId === p.id).map((a) => a.status),
          decisions: invocations.filter((i) => i.consumerId === p.id).map((i) => `${i.status}: ${i.reason}`),
        }))
        .filter((p) => p.welcomes.length !== 1);
      expect(welcomedOtherThanOnce).toEqual([]);
      expect(actions.filter((a) => (a.payload as { template?: string }).template !== "welcome")).toEqual([]);
      const interrupted = actions.filter((a) => a.status === "FAILED" && a.statusReason === LEASE_REASONS.interrupted);
      expect(actions.filter((a) => a.status !== "SENT" && !interrupted.includes(a))).toEqual([]);
      const mailsByAction = countBy(
        smtp.received.map((mail) => /^X-Closer-Action: *(\S+)/im.exec(mail.raw)?.[1] ?? "no action header"),
      );
      const mailsByRecipient = countBy(smtp.received.flatMap((mail) => mail.to));
      const actionIds = new Set(actions.map((a) => a.id));
      expect([...mailsByAction.keys()].filter((id) => !actionIds.has(id))).toEqual([]);
      expect([...mailsByAction].filter(([, mails]) => mails > 1)).toEqual([]);
      expect([...mailsByRecipient].filter(([, mails]) => mails > 1)).toEqual([]);
      expect(actions.filter((a) => a.status === "SENT" && mailsByAction.get(a.id) !== 1)).toEqual([]);

      // Live feeds are best effort while a master hands over (README, "Redis Cluster"); after it,
      // the survivor's feed carries new decisions again.
      const lastIds = sent.filter((s) => s.phase === "last").map((s) => s.eventId as string);
      await eventually(
        async () => (unheard(feeds[0], lastIds).length === 0 ? true : undefined),
        20_000,
        "the last events' decisions heard on the surviving API's feed",
        100,
      ).catch(() => {});
      expect(unheard(feeds[0], lastIds)).toEqual([]);

      const heard = feeds.map(heardBy);
      const phases: Phase[] = ["before", "pre-kill", "killed", "failover", "after", "last"];
      const survivorByPhase = phases.map((p) => {
        const ids = sent.filter((s) => s.phase === p).map((s) => s.eventId as string);
        return `${p} ${ids.filter((id) => heard[0].has(id)).length}/${ids.length}`;
      });
      const accepted = countBy(sent.map((s) => `api${s.acceptedBy}`));
      const sends = countBy(actions.map((a) => (interrupted.includes(a) ? "interrupted" : a.status)));
      const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
      console.log(
        `scale figures: events sent=${sent.length} accepted=${sent.filter((s) => s.eventId).length} ` +
          `(api0=${accepted.get("api0") ?? 0} api1=${accepted.get("api1") ?? 0}, sent again=${sent.filter((s) => s.tries > 1).length}) ` +
          `stored=${drained.events.length} (${drained.events.length - sent.length} delivery outcomes) ` +
          `processed=${drained.events.filter((e) => e.processedAt).length} invocations=${invocations.length} ` +
          `runs before the kills worker0=${runsBeforeKills[0]} worker1=${runsBeforeKills[1]}, worker0 in all=${await runsOf(workers[0])}; ` +
          `consumers=${people.length} welcomes=${actions.length} (sent=${sends.get("SENT") ?? 0} interrupted=${sends.get("interrupted") ?? 0}) ` +
          `mails=${smtp.received.length}; decisions received api0=${feeds[0].received.length} ` +
          `(events heard ${heard[0].size}; by phase sent: ${survivorByPhase.join(", ")}) ` +
          `api1=${feeds[1].received.length} until killed (before the kills ${before.length}/${before.length}); ` +
          `failover=${seconds(failedOverAt - failoverStartedAt)}; drained ${seconds(drained.at - killedAt)} after the kills, ` +
          `${seconds(drained.at - failedOverAt)} after the failover, ${seconds(drained.at - loadEndedAt)} after the load`,
      );
    } finally {
      over = true;
      loading = false;
      await load;
      for (const feed of feeds) feed.close();
    }
  }, 150_000);
});
