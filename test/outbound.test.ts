import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

vi.hoisted(() => {
  // Only 127.0.0.3 is admitted (an operator's internal service); every other loopback address,
  // private, link-local or unspecified one must be refused. One receiver answers on all of them.
  process.env.OUTBOUND_ALLOWED_HOSTS = "127.0.0.3";
  process.env.AGENT_JOB_ATTEMPTS = "2";
  process.env.AGENT_RETRY_DELAY_MS = "100";
  process.env.RATE_LIMIT_MAX = "100000";
});

import { makeActiveProfile, makeCreator } from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import type { Prisma } from "../src/generated/prisma/client.js";
import { parseAllowList, refusedAddress } from "../src/outbound/guarded-http.js";
import { startWorker } from "../worker/worker.js";
import { useApi } from "./support/api.js";
import {
  makeConsumer,
  makeDeliveryCreator,
  planActions,
  sendDue,
  testProviders,
  webhookTo,
} from "./support/delivery-fixtures.js";
import { fromGlobalId } from "./support/ids.js";
import { creatorWithAgent, DeployAgent, IngestEvent } from "./support/operations.js";
import { eventually, freePort } from "./support/processes.js";

const api = useApi();
let receiver: Server;
let port: number;
/** Requests the receiver got, by path. */
const hits: string[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    hits.push(req.url ?? "");
    req.resume();
    req.on("end", () => {
      if (req.url === "/redirect") {
        res.writeHead(302, { location: `http://127.0.0.1:${port}/landing` }).end();
      } else if (req.url === "/decide") {
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ decision: { act: false, reason: "remote says wait" }, actions: [] }));
      } else {
        res.writeHead(200, { "content-type": "text/plain" }).end(`# internal page\n${"secret_metric 1\n".repeat(500)}`);
      }
    });
  });
  // Dual stack: reachable at 127.0.0.1, 127.0.0.3, ::1 and the IPv4-mapped forms.
  await new Promise<void>((r) => receiver.listen(0, "::", r));
  port = (receiver.address() as { port: number }).port;
});
afterAll(async () => {
  receiver.closeAllConnections();
  await new Promise<void>((r) => receiver.close(() => r()));
});

describe("address classification", () => {
  it("refuses every address that is not public unicast, in IPv4, IPv6 and mapped forms, unless allow-listed", () => {
    const none = parseAllowList([]);
    const refused = [
      "127.0.0.1",
      "127.0.0.3",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "::1",
      "::",
      "fe80::1",
      "fc00::1",
      "ff02::1",
      "::ffff:127.0.0.1",
      "::ffff:169.254.169.254",
      "::ffff:7f00:1",
      "64:ff9b::7f00:1",
      "2002:7f00:1::1",
    ];
    for (const address of refused) expect(refusedAddress(address, none), address).not.toBeNull();
    for (const address of ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"]) {
      expect(refusedAddress(address, none), address).toBeNull();
    }
    const operator = parseAllowList(["10.0.0.0/8", "127.0.0.3", "fd00::/8"]);
    expect(refusedAddress("10.20.30.40", operator)).toBeNull();
    expect(refusedAddress("::ffff:10.20.30.40", operator)).toBeNull();
    expect(refusedAddress("127.0.0.3", operator)).toBeNull();
    expect(refusedAddress("fd12::1", operator)).toBeNull();
    expect(refusedAddress("127.0.0.1", operator)).not.toBeNull();
    expect(refusedAddress("192.168.0.1", operator)).not.toBeNull();
  });
});

describe("external agents", () => {
  it("cannot be deployed to an internal address, however it is written, and name the field", async () => {
    const owner = await makeCreator();
    await makeActiveProfile(owner.creator.id);
    const internal = [
      `http://127.0.0.1:${port}/decide`,
      `http://localhost:${port}/decide`,
      `http://[::1]:${port}/decide`,
      `http://[::ffff:127.0.0.1]:${port}/decide`,
      `http://2130706433:${port}/decide`,
      `http://127.1:${port}/decide`,
      `http://0.0.0.0:${port}/decide`,
      "http://169.254.169.254/latest/meta-data",
      "http://10.0.0.1/",
      `ftp://127.0.0.3:${port}/decide`,
    ];
    for (const url of internal) {
      const answer = await api.request(
        DeployAgent,
        { input: { creatorId: owner.gid, runtime: "EXTERNAL_HTTP", externalHttp: { url, secret: "s".repeat(20) } } },
        owner.creatorKey,
      );
      expect(answer.data?.deployAgent, url).toMatchObject({ __typename: "ValidationError", code: "VALIDATION_FAILED" });
    }
    const detailed = await api.request(
      `mutation($input: DeployAgentInput!) { deployAgent(input: $input) { ... on ValidationError { issues { path message } } } }`,
      {
        input: {
          creatorId: owner.gid,
          runtime: "EXTERNAL_HTTP",
          externalHttp: { url: `http://127.0.0.1:${port}/decide`, secret: "s".repeat(20) },
        },
      },
      owner.creatorKey,
    );
    expect(detailed.data).toEqual({
      deployAgent: { issues: [{ path: "externalHttp.url", message: "127.0.0.1 is a loopback address" }] },
    });
    // The operator's allow-listed service is fine.
    const allowed = await api.request(
      DeployAgent,
      {
        input: {
          creatorId: owner.gid,
          runtime: "EXTERNAL_HTTP",
          externalHttp: { url: `http://127.0.0.3:${port}/decide`, secret: "s".repeat(20) },
        },
      },
      owner.creatorKey,
    );
    expect(allowed.data?.deployAgent.__typename).toBe("Agent");
    expect(hits).toEqual([]);
  });

  it("are refused at connection time when their host resolves to an internal address (no byte sent)", async () => {
    const owner = await creatorWithAgent(api, {
      runtime: "EXTERNAL_HTTP",
      externalHttp: { url: `http://127.0.0.3:${port}/decide`, secret: "s".repeat(20), retries: 0 },
    });
    const agentId = fromGlobalId(owner.agentId).id;
    // What DNS rebinding amounts to: the name checked at deployment now resolves to loopback.
    const agent = await db.agent.findUniqueOrThrow({ where: { id: agentId } });
    const config = agent.config as { externalHttp: { url: string } };
    config.externalHttp.url = `http://localhost:${port}/decide`;
    await db.agent.update({ where: { id: agentId }, data: { config: config as Prisma.InputJsonValue } });

    const before = hits.length;
    const worker = await startWorker({ metricsPort: await freePort(), scheduler: false });
    try {
      const ingested = await api.request(
        IngestEvent,
        { creatorId: owner.gid, event: { consumer: { externalId: "rebound" }, type: "page_view" } },
        owner.ingestKey,
      );
      const eventId = fromGlobalId(
        (ingested.data?.ingestEvent as { event: { id: string } } | undefined)?.event.id ?? "",
      ).id;
      const invocation = await eventually(
        async () => {
          const found = await db.agentInvocation.findFirst({ where: { eventId } });
          return found?.status === "FAILED" ? found : undefined;
        },
        15_000,
        "refused invocation",
      );
      expect(invocation.error).toMatch(/refused: localhost resolves to 127\.0\.0\.1 is a loopback address/);
      // Refused for good: not retried.
      expect(invocation.attempts).toBe(1);
      expect(hits.slice(before)).toEqual([]);
    } finally {
      await worker.close();
    }
  });
});

describe("webhooks", () => {
  it("never reach an internal address, directly or through a redirect, and keep only an excerpt of an answer", async () => {
    const { creator } = await makeDeliveryCreator();
    const consumer = await makeConsumer(creator.id);
    const due = new Date(Date.now() - 1_000);
    const [direct, mapped, metadata, redirected, allowed] = await planActions(consumer, [
      { channel: "WEBHOOK", payload: webhookTo(`http://127.0.0.1:${port}/direct`), sendAt: due },
      { channel: "WEBHOOK", payload: webhookTo(`http://[::ffff:127.0.0.1]:${port}/mapped`), sendAt: due },
      { channel: "WEBHOOK", payload: webhookTo("http://169.254.169.254/latest/meta-data"), sendAt: due },
      { channel: "WEBHOOK", payload: webhookTo(`http://127.0.0.3:${port}/redirect`), sendAt: due },
      { channel: "WEBHOOK", payload: webhookTo(`http://127.0.0.3:${port}/metrics`), sendAt: due },
    ]);
    const before = hits.length;
    await sendDue(testProviders({ smtpUrl: "smtp://127.0.0.3:1", whatsAppUrl: `http://127.0.0.3:${port}` }));
    const reload = (id: string) => db.action.findUniqueOrThrow({ where: { id } });
    for (const action of [direct, mapped, metadata]) {
      const failed = await reload(action.id);
      expect(failed.status).toBe("FAILED");
      expect(failed.statusReason).toMatch(/refused by the provider: refused: .* is a (loopback|linkLocal) address/);
    }
    const notFollowed = await reload(redirected.id);
    expect(notFollowed.status).toBe("FAILED");
    expect(notFollowed.statusReason).toMatch(/HTTP 302: redirects are not followed/);
    // Only the allow-listed host was called: the redirect's target never was.
    expect(hits.slice(before).sort()).toEqual(["/metrics", "/redirect"]);

    const sent = await reload(allowed.id);
    expect(sent.status).toBe("SENT");
    const stored = sent.providerResponse as { status: number; excerpt: string; length: number };
    expect(stored.status).toBe(200);
    expect(stored.excerpt.length).toBeLessThanOrEqual(300);
    expect(stored.length).toBeGreaterThan(5_000);
    expect(stored.excerpt).not.toMatch(/\n/);
  });
});
