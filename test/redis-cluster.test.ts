import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

// Closer on a Redis Cluster of this file's own (3 masters, 3 replicas, scripts/redis-cluster.sh):
// REDIS_URL lists its nodes, so every connection is an ioredis Cluster. Through the real API over
// HTTP and SSE: an event becomes a decision (a BullMQ job on the cluster, the decision published
// and heard on a creator's channel and on the platform pattern) and a message the scheduler
// sends; the per-key rate limit is one bucket for every API process; and a master failing over
// to its replica under load loses no event and runs and sends nothing twice.
const cluster = await vi.hoisted(async () => {
  const { startPrivateRedisCluster } = await import("./support/private-services.js");
  const { freePort } = await import("./support/processes.js");
  const { QUICK_FAILURES } = await import("./support/quick-failures.js");
  const started = await startPrivateRedisCluster();
  Object.assign(process.env, QUICK_FAILURES, {
    REDIS_URL: started.url,
    SMTP_URL: `smtp://127.0.0.1:${await freePort()}`,
    SCHEDULER_INTERVAL_MS: "200",
  });
  return started;
});

import { makeAdminKey } from "../scripts/fixtures.js";
import { type SmtpSink, startSmtpSink } from "../scripts/sinks.js";
import { config } from "../src/config.js";
import { db } from "../src/db/client.js";
import { closePubSub } from "../src/pubsub.js";
import { closeQueues, queuePrefix } from "../src/queues.js";
import { startWorker } from "../worker/worker.js";
import { useApi } from "./support/api.js";
import { fromGlobalId } from "./support/ids.js";
import { AgentDecisions, creatorWithAgent, IngestEvent } from "./support/operations.js";
import {
  CHILD_PROCESS_TEST_MS,
  eventually,
  freePort,
  startProcess,
  stopProcess,
  waitForHttp,
} from "./support/processes.js";
import { subscribeSse } from "./support/sse.js";

afterAll(async () => {
  await Promise.all([closePubSub(), closeQueues()]);
  await cluster.remove();
}, 60_000);

const api = useApi();
let worker: Awaited<ReturnType<typeof startWorker>>;
let sink: SmtpSink;

beforeAll(async () => {
  expect(config().REDIS_CLUSTER).toBe(true);
  sink = await startSmtpSink(Number(new URL(config().SMTP_URL).port));
  worker = await startWorker({ metricsPort: 0 });
});

afterAll(async () => {
  await worker?.close();
  await sink?.close();
});

/** A creator whose agent welcomes a new consumer at once, at any hour: the welcome is due when planned. */
async function sellingCreator() {
  const owner = await creatorWithAgent(api, { tunables: { welcomeDelayMinutes: 0 } });
  const quietHoursOff = await api.request(
    `mutation($c: ID!) { updateCreator(id: $c, input: { quietHoursStart: "00:00", quietHoursEnd: "00:00" }) { __typename } }`,
    { c: owner.gid },
    owner.creatorKey,
  );
  expect(quietHoursOff.data).toEqual({ updateCreator: { __typename: "Creator" } });
  return owner;
}

type Owner = Awaited<ReturnType<typeof sellingCreator>>;

/** A page view of a new consumer who consented to email; answers the event's global id. */
async function ingestPageView(owner: Owner, email: string): Promise<string> {
  const answer = await api.request(
    IngestEvent,
    {
      creatorId: owner.gid,
      event: {
        type: "page_view",
        consumer: { externalId: email, email, consents: [{ channel: "EMAIL", granted: true, source: "signup_form" }] },
        payload: { url: "/programs/sprint", service: "Leadership Sprint" },
      },
    },
    owner.ingestKey,
  );
  const ingested = answer.data?.ingestEvent;
  if (ingested?.__typename !== "IngestedEvent") throw new Error(`not ingested: ${JSON.stringify(answer)}`);
  return ingested.event.id;
}

/** Mails the sink received for each of these addresses. */
function mailsTo(emails: string[]): Map<string, number> {
  const counts = new Map(emails.map((email) => [email, 0]));
  for (const mail of sink.received) {
    for (const to of mail.to) if (counts.has(to)) counts.set(to, (counts.get(to) as number) + 1);
  }
  return counts;
}

describe("on a Redis Cluster", () => {
  it("takes an event to a decision on a creator's and the platform's live feed, then sends the message", async () => {
    const owner = await sellingCreator();
    const feed = await subscribeSse(api.url, AgentDecisions, { creatorId: owner.gid }, owner.creatorKey);
    // The platform feed subscribes by pattern (PSUBSCRIBE), on whichever node the subscriber chose.
    const platform = await subscribeSse(api.url, AgentDecisions, {}, await makeAdminKey());
    try {
      const email = `asha-${randomBytes(3).toString("hex")}@example.com`;
      const eventId = await ingestPageView(owner, email);

      const message = await feed.waitFor((m) => m.data?.agentDecisions?.event.id === eventId, 20_000);
      const decision = message.data?.agentDecisions;
      expect(decision).toMatchObject({ status: "COMPLETED", acted: true, reason: expect.stringMatching(/welcome/i) });
      expect(decision?.actions).toEqual([expect.objectContaining({ channel: "EMAIL" })]);
      const seenByOperators = await platform.waitFor((m) => m.data?.agentDecisions?.event.id === eventId);
      expect(seenByOperators.data?.agentDecisions?.id).toBe(decision?.id);

      await eventually(async () => ((mailsTo([email]).get(email) ?? 0) > 0 ? true : undefined), 20_000, "welcome sent");
      await eventually(
        async () =>
          (await db.action.findFirst({ where: { creatorId: owner.creator.id } }))?.status === "SENT" ? true : undefined,
        10_000,
        "welcome marked SENT",
      );
      expect(mailsTo([email]).get(email)).toBe(1);
    } finally {
      feed.close();
      platform.close();
    }
  });

  it(
    "limits a key's requests in one bucket shared by every API process",
    async () => {
      const limit = 5;
      // Two API processes with a limit of 5 per hour: apart they would serve 6 requests.
      const apis = await Promise.all(
        [0, 1].map(async () => {
          const port = await freePort();
          const child = startProcess("src/server.ts", {
            PORT: String(port),
            HOST: "127.0.0.1",
            RATE_LIMIT_MAX: String(limit),
            RATE_LIMIT_WINDOW_SECONDS: "3600",
          });
          return { child, base: `http://127.0.0.1:${port}` };
        }),
      );
      try {
        await Promise.all(apis.map(({ base }) => waitForHttp(`${base}/ready`, 90_000)));
        const owner = await sellingCreator();
        const answers: { status: number; code?: string; retryAfter: string | null }[] = [];
        for (let i = 0; i < 6; i++) {
          const { base } = apis[i % 2];
          const response = await fetch(`${base}/graphql`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${owner.ingestKey}` },
            body: JSON.stringify({ query: "{ viewer { kind } }" }),
          });
          const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
          answers.push({
            status: response.status,
            code: body.errors?.[0]?.extensions?.code,
            retryAfter: response.headers.get("retry-after"),
          });
        }
        expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429]);
        expect(answers[limit]).toMatchObject({ code: "RATE_LIMITED", retryAfter: expect.stringMatching(/^\d+$/) });
        // Both served from the cluster, not from their own fallback buckets.
        for (const { base } of apis) expect(await (await fetch(`${base}/ready`)).json()).toMatchObject({ redis: "ok" });
      } finally {
        await Promise.all(apis.map(({ child }) => stopProcess(child)));
      }
    },
    CHILD_PROCESS_TEST_MS,
  );

  it("loses no event and runs and sends nothing twice when the queues' master fails over under load", async () => {
    const owner = await sellingCreator();
    const feed = await subscribeSse(api.url, AgentDecisions, { creatorId: owner.gid }, owner.creatorKey);
    try {
      // The master holding every key of the queues, and the replica that takes over from it.
      const before = await cluster.shardOf(queuePrefix());
      const run = randomBytes(3).toString("hex");
      // Light load: 3 page views at once about every 50 ms, `steady` rounds before the failover,
      // then on through it until as many rounds again have been sent once it is over.
      const steady = 10;
      const emails: string[] = [];
      const eventIds: string[] = [];
      let failover: Promise<void> | undefined;
      let switchedAt: number | undefined;
      let failoverError: unknown;
      let rounds = 0;
      while (!failoverError && (switchedAt === undefined || rounds < switchedAt + steady)) {
        if (rounds === steady) {
          failover = cluster.failover(before.replica).then(
            () => {
              switchedAt = rounds;
            },
            (error) => {
              failoverError = error;
            },
          );
        }
        const batch = [0, 1, 2].map((i) => `f${rounds}-${i}-${run}@example.com`);
        emails.push(...batch);
        eventIds.push(...(await Promise.all(batch.map((email) => ingestPageView(owner, email)))));
        await sleep(50);
        rounds++;
      }
      await failover;
      if (failoverError) throw failoverError;
      expect(await cluster.shardOf(queuePrefix())).toEqual({ master: before.replica, replica: before.master });

      const rawIds = eventIds.map((id) => fromGlobalId(id).id);
      await eventually(
        async () =>
          (await db.event.count({ where: { id: { in: rawIds }, processedAt: { not: null } } })) === rawIds.length
            ? true
            : undefined,
        60_000,
        "every event processed",
      );
      // One run per event (a welcome's email_delivered, also an event, is run too: not counted).
      const invocations = await db.agentInvocation.findMany({
        where: { eventId: { in: rawIds } },
        select: { eventId: true, status: true },
      });
      expect(invocations.map((i) => i.eventId).sort()).toEqual([...rawIds].sort());
      expect(new Set(invocations.map((i) => i.status))).toEqual(new Set(["COMPLETED"]));

      await eventually(
        async () =>
          (await db.action.count({ where: { creatorId: owner.creator.id, status: "SENT" } })) === emails.length
            ? true
            : undefined,
        60_000,
        "every welcome sent",
      );
      expect(await db.action.count({ where: { creatorId: owner.creator.id } })).toBe(emails.length);
      expect([...mailsTo(emails).values()]).toEqual(emails.map(() => 1));

      // The live feed is best effort: a publish that timed out on the master being demoted drops
      // its connection, and messages meanwhile (the rows are the record). It carries them again after.
      const after = await ingestPageView(owner, `after-${run}@example.com`);
      await feed.waitFor((m) => m.data?.agentDecisions?.event.id === after, 20_000);
      const heard = new Set(feed.received.map((m) => m.data?.agentDecisions?.event.id));
      console.log(
        `[redis-cluster] failover of ${before.master} to ${before.replica}: ${eventIds.length} events ` +
          `(${((switchedAt as number) - steady) * 3} sent while it ran) processed, ` +
          `${invocations.length} invocations, ${emails.length} mails; ` +
          `${eventIds.filter((id) => heard.has(id)).length} decisions heard live`,
      );
    } finally {
      feed.close();
    }
  }, 120_000);
});
