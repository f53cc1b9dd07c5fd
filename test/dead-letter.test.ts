import { describe, expect, it, vi } from "vitest";

await vi.hoisted(async () => {
  Object.assign(process.env, (await import("./support/quick-failures.js")).QUICK_FAILURES);
});

import { type MadeCreator, makeAdminKey, makeCreator } from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import type { Prisma } from "../src/generated/prisma/client.js";
import { startWorker } from "../worker/worker.js";
import { useApi } from "./support/api.js";
import { fromGlobalId } from "./support/ids.js";
import { creatorWithAgent, ingestPageView } from "./support/operations.js";
import { eventually, freePort } from "./support/processes.js";

// What ends in the dead-letter views, and what never does: a run that fails for good for a
// reason of its own is recorded (on its invocation, or on the event when no invocation could
// hold it) and can be retried; a server that is not ours refusing connections is such a reason,
// not an outage of PostgreSQL or Redis (which is retried until they are back).

const FailedEvents = `query { failedEvents(first: 10) { edges { node { id failedAt failureReason processedAt } } } }`;
const RetryEvent = `mutation($id: ID!) { retryEvent(id: $id) { __typename ... on Event { id failedAt } ... on Error { code } } }`;
const FailedInvocations = `query { failedInvocations(first: 10) { edges { node { id status attempts error } } } }`;

type Edges<T> = { edges: { node: T }[] };
type FailedEvent = { id: string; failedAt: string | null; failureReason: string | null; processedAt: string | null };

const api = useApi();

const pageView = (owner: MadeCreator, externalId: string) => ingestPageView(api, owner, externalId);

describe("an event whose agents cannot be run at all", () => {
  it("is dead-lettered after its attempts, listed for its creator only, and runs again on retryEvent", async () => {
    const owner = await creatorWithAgent(api);
    const other = await makeCreator();
    // Stored with no worker running; then its consumer's context goes missing (damaged data).
    const event = await pageView(owner, "damaged");
    const { id: eventId } = fromGlobalId(event.id);
    const stored = await db.event.findFirstOrThrow({ where: { id: eventId } });
    const context = await db.consumerContext.findUniqueOrThrow({ where: { consumerId: stored.consumerId } });
    await db.consumerContext.delete({ where: { consumerId: stored.consumerId } });

    const worker = await startWorker({ metricsPort: await freePort(), scheduler: false });
    try {
      const failed = await eventually(
        async () => {
          const r = await api.request<{ failedEvents: Edges<FailedEvent> }, never>(
            FailedEvents,
            undefined,
            owner.creatorKey,
          );
          return r.data?.failedEvents.edges.find((e) => e.node.id === event.id)?.node;
        },
        15_000,
        "event in the dead-letter view",
      );
      expect(failed.processedAt).toBeNull();
      expect(failed.failureReason).toContain("has no context");
      // Dead-lettered means left alone: the sweeper does not enqueue it again and again.
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await db.agentInvocation.count({ where: { eventId } })).toBe(0);
      expect(await db.event.findFirstOrThrow({ where: { id: eventId } })).toMatchObject({
        failedAt: expect.any(Date),
      });

      const foreign = await api.request<{ failedEvents: Edges<FailedEvent> }, never>(
        FailedEvents,
        undefined,
        other.creatorKey,
      );
      expect(foreign.data?.failedEvents.edges).toEqual([]);
      const admin = await api.request<{ failedEvents: Edges<FailedEvent> }, never>(
        FailedEvents,
        undefined,
        await makeAdminKey(),
      );
      expect(admin.data?.failedEvents.edges.map((e) => e.node.id)).toContain(event.id);

      // Repaired, then retried: the agents run once, and the event leaves the view.
      await db.consumerContext.create({ data: context as Prisma.ConsumerContextUncheckedCreateInput });
      const retried = await api.request(RetryEvent, { id: event.id }, owner.creatorKey);
      expect(retried.data).toMatchObject({ retryEvent: { __typename: "Event", failedAt: null } });
      await eventually(
        async () => ((await db.event.findFirstOrThrow({ where: { id: eventId } })).processedAt ? true : undefined),
        15_000,
        "retried event processed",
      );
      expect(await db.agentInvocation.count({ where: { eventId } })).toBe(1);
      const after = await api.request<{ failedEvents: Edges<FailedEvent> }, never>(
        FailedEvents,
        undefined,
        owner.creatorKey,
      );
      expect(after.data?.failedEvents.edges).toEqual([]);
      const again = await api.request(RetryEvent, { id: event.id }, owner.creatorKey);
      expect(again.data).toMatchObject({ retryEvent: { __typename: "ConflictError", code: "CONFLICT" } });
    } finally {
      await worker.close();
    }
  });
});

describe("an external agent service that refuses connections", () => {
  it("fails the invocation after its retries (the agent's failure, not an outage) and processes the event", async () => {
    const closedPort = await freePort();
    const owner = await creatorWithAgent(api, {
      runtime: "EXTERNAL_HTTP",
      externalHttp: { url: `http://127.0.0.1:${closedPort}/decide`, secret: "s".repeat(20), retries: 0 },
    });
    const worker = await startWorker({ metricsPort: await freePort(), scheduler: false });
    try {
      const event = await pageView(owner, "refused");
      const { id: eventId } = fromGlobalId(event.id);
      const failed = await eventually(
        async () => {
          const r = await api.request<
            { failedInvocations: Edges<{ status: string; attempts: number; error: string }> },
            never
          >(FailedInvocations, undefined, owner.creatorKey);
          return r.data?.failedInvocations.edges[0]?.node;
        },
        15_000,
        "invocation in the dead-letter view",
      );
      expect(failed).toMatchObject({ status: "FAILED", attempts: 2 });
      // The job marks its event processed after recording the failure, with the other jobs'
      // marks of that moment (one statement for them all): it follows, it is not in the same write.
      await eventually(
        async () => ((await db.event.findFirstOrThrow({ where: { id: eventId } })).processedAt ? true : undefined),
        15_000,
        "event processed",
      );
      // Not retried beyond its attempts (as an outage would be, by the sweeper).
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await db.agentInvocation.findFirstOrThrow({ where: { eventId } })).toMatchObject({ attempts: 2 });
    } finally {
      await worker.close();
    }
  });
});
