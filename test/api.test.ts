import { beforeAll, describe, expect, it } from "vitest";
import { makeAdminKey, makeCreator, uniqueHandle } from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import { graphql } from "./generated/gql.js";
import { useApi } from "./support/api.js";
import { IngestEvent } from "./support/operations.js";
import { CHILD_PROCESS_TEST_MS, freePort, startProcess, waitForHttp } from "./support/processes.js";

const ConsumersPage = graphql(`
  query ConsumersPage($id: ID!, $first: Int, $after: String, $filter: ConsumerFilter, $orderBy: ConsumerOrder) {
    node(id: $id) {
      ... on Creator {
        consumers(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
          totalCount
          pageInfo {
            hasNextPage
            endCursor
          }
          edges {
            node {
              externalId
              context {
                stage
              }
            }
          }
        }
      }
    }
  }
`);

const EventsPage = graphql(`
  query EventsPage($id: ID!, $filter: EventFilter) {
    node(id: $id) {
      ... on Creator {
        events(first: 50, filter: $filter) {
          totalCount
          edges {
            node {
              type
              occurredAt
            }
          }
        }
      }
    }
  }
`);

const CreateCreator = graphql(`
  mutation CreateCreator($input: CreateCreatorInput!) {
    createCreator(input: $input) {
      __typename
      ... on Creator {
        id
        handle
        timezone
        quietHours {
          start
          end
          policy
        }
        frequencyCaps {
          channel
          max
          windowHours
        }
      }
      ...ErrorFields
    }
  }
`);

const api = useApi();
let adminKey: string;

beforeAll(async () => {
  adminKey = await makeAdminKey();
});

type Page = {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
  edges: { node: { externalId?: string | null } }[];
};

describe("pagination and filters", () => {
  it("pages through consumers with stable cursors while new rows arrive", async () => {
    const owner = await makeCreator();
    const base = Date.now() - 3_600_000;
    for (let i = 0; i < 25; i++) {
      const consumer = await db.consumer.create({
        data: {
          creatorId: owner.creator.id,
          externalId: `p${String(i).padStart(2, "0")}`,
          createdAt: new Date(base + i * 1000),
        },
      });
      await db.consumerContext.create({
        data: {
          creatorId: owner.creator.id,
          consumerId: consumer.id,
          stage: i % 2 ? "ENGAGED" : "INTERESTED",
          lastSeenAt: new Date(base + i * 1000),
        },
      });
    }
    const page = async (after?: string | null) =>
      (await api.request(ConsumersPage, { id: owner.gid, first: 10, after, orderBy: "CREATED_DESC" }, owner.creatorKey))
        .data?.node as { consumers: Page };

    const first = (await page()).consumers;
    expect(first.totalCount).toBe(25);
    const p = (i: number) => `p${String(i).padStart(2, "0")}`;
    expect(first.edges.map((e) => e.node.externalId)).toEqual(Array.from({ length: 10 }, (_, i) => p(24 - i)));
    // A consumer created now lands before the first page: the next page must neither repeat nor skip.
    await db.consumer.create({ data: { creatorId: owner.creator.id, externalId: "newcomer" } });
    const second = (await page(first.pageInfo.endCursor)).consumers;
    expect(second.edges.map((e) => e.node.externalId)).toEqual(Array.from({ length: 10 }, (_, i) => p(14 - i)));
    const third = (await page(second.pageInfo.endCursor)).consumers;
    expect(third.edges.map((e) => e.node.externalId)).toEqual(["p04", "p03", "p02", "p01", "p00"]);
    expect(third.pageInfo.hasNextPage).toBe(false);

    const engaged = await api.request(
      ConsumersPage,
      {
        id: owner.gid,
        first: 50,
        filter: { stage: ["ENGAGED"], lastSeenAfter: new Date(base + 10_000).toISOString() },
        orderBy: "LAST_SEEN_ASC",
      },
      owner.creatorKey,
    );
    const names = (engaged.data!.node as { consumers: Page }).consumers.edges.map((e) => e.node.externalId);
    expect(names).toEqual(["p11", "p13", "p15", "p17", "p19", "p21", "p23"]);
  });

  it("filters events by type and time range", async () => {
    const owner = await makeCreator();
    const consumer = await db.consumer.create({ data: { creatorId: owner.creator.id, externalId: "e" } });
    const at = (minutes: number) => new Date(Date.UTC(2026, 0, 1, 12, minutes));
    for (const [type, minute] of [
      ["page_view", 0],
      ["service_click", 10],
      ["page_view", 20],
      ["enrolled", 30],
    ] as const) {
      await db.event.create({
        data: { creatorId: owner.creator.id, consumerId: consumer.id, type, occurredAt: at(minute) },
      });
    }
    const response = await api.request(
      EventsPage,
      {
        id: owner.gid,
        filter: {
          type: ["page_view", "enrolled"],
          occurredAfter: at(5).toISOString(),
          occurredBefore: at(31).toISOString(),
        },
      },
      owner.creatorKey,
    );
    const events = (response.data!.node as { events: { edges: { node: { type: string } }[] } }).events.edges.map(
      (e) => e.node.type,
    );
    expect(events).toEqual(["enrolled", "page_view"]);
  });
});

describe("creators by hand", () => {
  it("creates a creator with its send settings and audits it", async () => {
    const handle = uniqueHandle();
    const response = await api.request(
      CreateCreator,
      {
        input: {
          name: "Maya Rao",
          handle,
          timezone: "Asia/Kolkata",
          quietHoursStart: "22:30",
          quietHoursEnd: "07:00",
          quietHoursPolicy: "SKIP",
          frequencyCaps: [{ channel: "WHATSAPP", max: 2, windowHours: 24 }],
        },
      },
      adminKey,
    );
    expect(response.data?.createCreator).toMatchObject({
      __typename: "Creator",
      handle,
      timezone: "Asia/Kolkata",
      quietHours: { start: "22:30", end: "07:00", policy: "SKIP" },
      frequencyCaps: [{ channel: "WHATSAPP", max: 2, windowHours: 24 }],
    });
    const audit = await db.auditLog.findFirst({
      where: { operation: "creator.create", details: { path: ["handle"], equals: handle } },
    });
    expect(audit).toMatchObject({ actorKind: "ADMIN" });
  });

  it.each([
    ["a handle with spaces", { handle: "Not A Handle" }, "handle"],
    ["an unknown time zone", { timezone: "Mars/Olympus" }, "timezone"],
    ["a malformed quiet hour", { quietHoursStart: "25:00" }, "quietHoursStart"],
    ["a bad phone number", { phone: "12" }, "phone"],
    [
      "two caps for one channel",
      {
        frequencyCaps: [
          { channel: "EMAIL" as const, max: 1, windowHours: 1 },
          { channel: "EMAIL" as const, max: 2, windowHours: 1 },
        ],
      },
      "frequencyCaps",
    ],
  ])("answers %s with a typed validation error naming the field, and writes nothing", async (_case, override, path) => {
    const handle = uniqueHandle();
    const response = await api.request(CreateCreator, { input: { name: "X", handle, ...override } }, adminKey);
    expect(response.data?.createCreator).toMatchObject({ __typename: "ValidationError", code: "VALIDATION_FAILED" });
    expect((response.data!.createCreator as { issues: { path: string }[] }).issues.map((i) => i.path)).toContain(path);
    const attempted = "handle" in override ? override.handle : handle;
    expect(await db.creator.count({ where: { handle: attempted } })).toBe(0);
    expect(
      await db.auditLog.count({
        where: { operation: "creator.create", details: { path: ["handle"], equals: attempted } },
      }),
    ).toBe(0);
  });

  it("answers a taken handle with a CONFLICT result", async () => {
    const taken = await makeCreator();
    const response = await api.request(
      CreateCreator,
      { input: { name: "Copy", handle: taken.creator.handle } },
      adminKey,
    );
    expect(response.data?.createCreator).toMatchObject({ __typename: "ConflictError", code: "CONFLICT" });
  });

  it("keeps creating creators to admin keys", async () => {
    const owner = await makeCreator();
    const response = await api.request(
      CreateCreator,
      { input: { name: "X", handle: uniqueHandle() } },
      owner.creatorKey,
    );
    expect(response.errors?.[0].extensions?.code).toBe("FORBIDDEN");
  });
});

describe("limits", () => {
  it("refuses a query nested deeper than the limit", async () => {
    const owner = await makeCreator();
    let selection = "id";
    for (let i = 0; i < 8; i++) selection = `consumers(first: 1) { edges { node { creator { ${selection} } } } }`;
    const response = await api.request(
      `query { node(id: "${owner.gid}") { ... on Creator { ${selection} } } }`,
      {},
      owner.creatorKey,
    );
    expect(response.errors?.[0].extensions?.code).toBe("QUERY_LIMIT_EXCEEDED");
    expect(response.errors?.[0].message).toMatch(/depth/);
  });

  it("refuses a query whose cost is over the limit", async () => {
    const owner = await makeCreator();
    const fields = "id type payload occurredAt receivedAt";
    const query = `query { node(id: "${owner.gid}") { ... on Creator {
      a: events(first: 100) { edges { node { ${fields} consumer { consents { channel } } } } }
      b: events(first: 100) { edges { node { ${fields} invocations { actions { id payload } } } } } } } }`;
    const response = await api.request(query, {}, owner.creatorKey);
    expect(response.errors?.[0].extensions?.code).toBe("QUERY_LIMIT_EXCEEDED");
  });

  it("refuses too many aliases", async () => {
    const aliases = Array.from({ length: 30 }, (_, i) => `a${i}: viewer { kind }`).join(" ");
    const response = await api.request(`query { ${aliases} }`, {}, adminKey);
    expect(response.errors?.[0].message).toMatch(/aliases/i);
    expect(response.data ?? null).toBeNull();
  });

  it("refuses a body over the size limit with 413 before reading it", async () => {
    const response = await fetch(api.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${adminKey}` },
      body: JSON.stringify({ query: "{ viewer { kind } }", variables: { pad: "x".repeat(1_100_000) } }),
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe(
      "PAYLOAD_TOO_LARGE",
    );
  });
});

describe("operations", () => {
  it("answers /health, /ready and /metrics", async () => {
    const origin = new URL(api.url).origin;
    expect((await fetch(`${origin}/health`)).status).toBe(200);
    const ready = await fetch(`${origin}/ready`);
    expect(await ready.json()).toEqual({ status: "ready", database: "ok", redis: "ok" });
    const owner = await makeCreator();
    await api.request(
      IngestEvent,
      { creatorId: owner.gid, event: { consumer: { externalId: "m" }, type: "page_view" } },
      owner.ingestKey,
    );
    const metrics = await (await fetch(`${origin}/metrics`)).text();
    expect(metrics).toMatch(/closer_events_ingested_total\{outcome="stored"\} [1-9]/);
    expect(metrics).toContain("closer_graphql_request_seconds");
    expect(metrics).toMatch(/closer_queue_jobs\{queue="agent-runs",state="waiting"\} \d+/);
  });

  it(
    "masks internal failures: a database outage answers a generic error that leaks nothing",
    async () => {
      const port = await freePort();
      const broken = new URL(process.env.DATABASE_URL as string);
      broken.pathname = "/closer_database_that_does_not_exist";
      const isolated = startProcess("src/server.ts", {
        PORT: String(port),
        HOST: "127.0.0.1",
        DATABASE_URL: broken.toString(),
      });
      try {
        await waitForHttp(`http://127.0.0.1:${port}/health`);
        const ready = await fetch(`http://127.0.0.1:${port}/ready`);
        expect(ready.status).toBe(503);
        const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${adminKey}` },
          body: JSON.stringify({ query: "{ viewer { kind } }" }),
        });
        const body = JSON.stringify(await response.json());
        expect(body).toContain("Unexpected error");
        expect(body).not.toMatch(/closer_database_that_does_not_exist|postgres|stack/i);
      } finally {
        isolated.kill("SIGTERM");
      }
    },
    CHILD_PROCESS_TEST_MS,
  );

  it(
    "rate-limits each key, answering 429 with when to retry",
    async () => {
      const port = await freePort();
      const limited = startProcess("src/server.ts", {
        PORT: String(port),
        HOST: "127.0.0.1",
        RATE_LIMIT_MAX: "3",
        RATE_LIMIT_WINDOW_SECONDS: "60",
      });
      try {
        await waitForHttp(`http://127.0.0.1:${port}/health`);
        const owner = await makeCreator();
        const send = (key: string) =>
          fetch(`http://127.0.0.1:${port}/graphql`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
            body: JSON.stringify({ query: "{ viewer { kind } }" }),
          });
        const statuses = [];
        for (let i = 0; i < 4; i++) statuses.push((await send(owner.creatorKey)).status);
        expect(statuses).toEqual([200, 200, 200, 429]);
        const limitedResponse = await send(owner.creatorKey);
        expect(Number(limitedResponse.headers.get("retry-after"))).toBeGreaterThan(0);
        // Another key has its own budget.
        expect((await send(owner.ingestKey)).status).toBe(200);
      } finally {
        limited.kill("SIGTERM");
      }
    },
    CHILD_PROCESS_TEST_MS,
  );
});
