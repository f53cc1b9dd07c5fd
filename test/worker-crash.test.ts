import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

vi.hoisted(() => {
  // A lock renewed every 1.5 s survives a loaded machine; a dead worker's lapses within seconds.
  Object.assign(process.env, {
    WORKER_LOCK_DURATION_MS: "3000",
    WORKER_STALLED_INTERVAL_MS: "1000",
    RATE_LIMIT_MAX: "100000",
  });
});

import { makeActiveProfile, makeCreator } from "../scripts/fixtures.js";
import { db } from "../src/db/client.js";
import { startWorker } from "../worker/worker.js";
import { useApi } from "./support/api.js";
import { DeployAgent, IngestEvent } from "./support/operations.js";
import { CHILD_PROCESS_TEST_MS, eventually, freePort, startProcess, waitForHttp } from "./support/processes.js";

const api = useApi();
let agentService: Server;
let agentUrl: string;
let calls = 0;
let firstCallArrived!: () => void;
const firstCall = new Promise<void>((resolve) => {
  firstCallArrived = resolve;
});

let slowCallArrived!: () => void;
const slowCall = new Promise<void>((resolve) => {
  slowCallArrived = resolve;
});

const REMOTE_ANSWER = {
  decision: { act: true, reason: "remote decided to write" },
  actions: [
    {
      channel: "EMAIL",
      payload: { to: "x@example.com", message: "hello", template: "remote" },
      sendAt: new Date(Date.now() + 3_600_000).toISOString(),
      priority: 1,
    },
  ],
};

async function externalAgentCreator(path: string) {
  const owner = await makeCreator();
  await makeActiveProfile(owner.creator.id);
  const url = agentUrl.replace("/decide", path);
  const deployed = await api.request(
    DeployAgent,
    {
      input: {
        creatorId: owner.gid,
        runtime: "EXTERNAL_HTTP",
        externalHttp: { url, secret: "k".repeat(20), timeoutMs: 30_000, retries: 0 },
      },
    },
    owner.creatorKey,
  );
  expect(deployed.data?.deployAgent.__typename).toBe("Agent");
  return owner;
}

beforeAll(async () => {
  // An agent service that hangs on the first call (the worker dies meanwhile) and answers the next.
  agentService = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.url === "/slow") {
        // Takes a while to decide: long enough for the worker to be asked to stop meanwhile.
        slowCallArrived();
        setTimeout(
          () => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(REMOTE_ANSWER)),
          1500,
        );
        return;
      }
      calls += 1;
      if (calls === 1) {
        firstCallArrived();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(REMOTE_ANSWER));
    });
  });
  await new Promise<void>((r) => agentService.listen(0, "127.0.0.1", r));
  agentUrl = `http://127.0.0.1:${(agentService.address() as { port: number }).port}/decide`;
});
afterAll(async () => {
  agentService.closeAllConnections();
  await new Promise<void>((r) => agentService.close(() => r()));
});

describe("a worker killed mid-job", () => {
  it(
    "has its job retried by another worker: one invocation, no duplicate action",
    async () => {
      const owner = await externalAgentCreator("/decide");

      const doomed = startProcess("worker/main.ts", { WORKER_METRICS_PORT: "0" });
      try {
        await api.request(
          IngestEvent,
          { creatorId: owner.gid, event: { consumer: { externalId: "p" }, type: "page_view" } },
          owner.ingestKey,
        );
        await firstCall;
        const running = await db.agentInvocation.findFirstOrThrow({ where: { creatorId: owner.creator.id } });
        expect(running.status).toBe("RUNNING");
      } finally {
        doomed.kill("SIGKILL");
      }

      const rescuer = await startWorker({ metricsPort: 0, scheduler: false });
      try {
        const done = await eventually(
          async () => {
            const rows = await db.agentInvocation.findMany({ where: { creatorId: owner.creator.id } });
            return rows.length === 1 && rows[0].status === "COMPLETED" ? rows[0] : undefined;
          },
          20_000,
          "invocation completed by the second worker",
        );
        expect(done.attempts).toBe(2);
        expect(await db.action.count({ where: { creatorId: owner.creator.id } })).toBe(1);
        expect(calls).toBe(2);
      } finally {
        await rescuer.close();
      }
    },
    CHILD_PROCESS_TEST_MS,
  );
});

describe("a worker asked to stop", () => {
  it(
    "finishes the job it is running, then exits",
    async () => {
      const owner = await externalAgentCreator("/slow");
      const metricsPort = await freePort();
      const worker = startProcess("worker/main.ts", {
        WORKER_METRICS_PORT: String(metricsPort),
        // Production-length locks: this worker is stopped, not lost.
        WORKER_LOCK_DURATION_MS: "30000",
        WORKER_STALLED_INTERVAL_MS: "30000",
      });
      const exited = new Promise<string>((resolve) =>
        worker.once("exit", (code, signal) => resolve(`${code}/${signal}`)),
      );
      // Signals are handled once the worker is up: wait for it before giving it work.
      await waitForHttp(`http://127.0.0.1:${metricsPort}/health`);
      await api.request(
        IngestEvent,
        { creatorId: owner.gid, event: { consumer: { externalId: "p" }, type: "page_view" } },
        owner.ingestKey,
      );
      await slowCall;
      worker.kill("SIGTERM");
      expect(await exited).toBe("0/null");
      // By the time it exited, the run it had started was complete and its action stored.
      const invocation = await db.agentInvocation.findFirstOrThrow({ where: { creatorId: owner.creator.id } });
      expect(invocation).toMatchObject({ status: "COMPLETED", attempts: 1 });
      expect(await db.action.count({ where: { creatorId: owner.creator.id } })).toBe(1);
    },
    CHILD_PROCESS_TEST_MS,
  );
});
