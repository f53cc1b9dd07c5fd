import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { print } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeActiveProfile, makeCreator } from "../scripts/fixtures.js";
import { createApiKey } from "../src/auth/api-keys.js";
import { toGlobalId } from "./support/ids.js";
import { DeployAgent, IngestEvent, RevokeApiKey } from "./support/operations.js";
import { CHILD_PROCESS_TEST_MS, eventually, freePort, startProcess, waitForHttp } from "./support/processes.js";
import { postSubscription, readFrames } from "./support/sse.js";

// API_PROCESSES=2: the API as two processes on one port (node:cluster), each with its own key
// cache and live streams. What one process learns reaches the other through Redis: a revoked
// key is refused by both at once, a decision reaches a stream whichever process took its event.
// /metrics adds both up; a process that dies is replaced; SIGTERM stops them all.

const PROCESSES = 2;
let api: ChildProcess;
let url: string;
/** The API primary's exit code, once it exits. */
let apiExit: Promise<number | null>;

/** One POST on a connection of its own: the cluster hands each new connection to the next process in turn. */
function post(body: string, key: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent: false,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          authorization: `Bearer ${key}`,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The API processes the primary runs. */
function apiProcesses(): number[] {
  const pid = api.pid as number;
  return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
}

function ingestBody(creatorGid: string, externalId: string): string {
  return JSON.stringify({
    query: print(IngestEvent),
    operationName: "IngestEvent",
    variables: { creatorId: creatorGid, event: { consumer: { externalId }, type: "page_view" } },
  });
}

beforeAll(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}/graphql`;
  // Keys stay cached for five minutes: only the revocation broadcast can make a process forget one.
  api = startProcess("src/server.ts", {
    PORT: String(port),
    HOST: "127.0.0.1",
    API_PROCESSES: String(PROCESSES),
    API_KEY_CACHE_MS: "300000",
  });
  // Listened for from the start: an exit before a test waits for it must not be missed.
  apiExit = new Promise((resolve) => api.once("exit", (code) => resolve(code)));
  await waitForHttp(`http://127.0.0.1:${port}/health`);
}, CHILD_PROCESS_TEST_MS);

afterAll(async () => {
  if (api.exitCode === null && api.signalCode === null) {
    const exited = new Promise((resolve) => api.once("exit", resolve));
    api.kill("SIGKILL");
    await exited;
  }
});

describe("API_PROCESSES=2", () => {
  it("serves from two processes, which forget a revoked key together and count their requests together", async () => {
    expect(apiProcesses()).toHaveLength(PROCESSES);
    const owner = await makeCreator();
    const doomed = await createApiKey({ kind: "CREATOR", creatorId: owner.creator.id, name: "doomed" }, null);
    // Four connections: each process answers two, and caches the key.
    for (let i = 0; i < 4; i++) {
      const answer = await post(ingestBody(owner.gid, `p${i}`), doomed.secret);
      expect(answer.status, answer.body).toBe(200);
      expect(JSON.parse(answer.body).data.ingestEvent.__typename).toBe("IngestedEvent");
    }
    const revoke = JSON.stringify({
      query: print(RevokeApiKey),
      operationName: "RevokeApiKey",
      variables: { id: toGlobalId("ApiKey", doomed.apiKey.id) },
    });
    const revoked = await post(revoke, owner.creatorKey);
    expect(JSON.parse(revoked.body).data.revokeApiKey.__typename).toBe("ApiKey");
    // Whichever process takes the connection, the key is refused at once.
    for (let i = 0; i < 4; i++) {
      const answer = await post(ingestBody(owner.gid, `q${i}`), doomed.secret);
      expect(answer.status, answer.body).toBe(401);
    }
    // /metrics answers for both processes: the four ingestions and the revocation, whichever took
    // them. The primary waits up to 5 s for every process's figures (prom-client): on a loaded
    // machine a scrape may miss that and answer 500, so it is asked again until it answers.
    const counts = await eventually(
      async () => {
        const response = await fetch(url.replace("/graphql", "/metrics"));
        const metrics = await response.text();
        if (response.status !== 200) return undefined;
        const count = (operation: string) =>
          Number(
            new RegExp(`^closer_graphql_request_seconds_count\\{operation="${operation}"\\} (\\d+)$`, "m").exec(
              metrics,
            )?.[1],
          );
        return { ingestions: count("IngestEvent"), revocations: count("RevokeApiKey") };
      },
      30_000,
      "the cluster's metrics",
    );
    expect(counts).toEqual({ ingestions: 4, revocations: 1 });
  });

  it(
    "streams every decision to a subscriber, whichever process took the event",
    async () => {
      const { startWorker } = await import("../worker/worker.js");
      const worker = await startWorker({ metricsPort: 0, scheduler: false });
      const owner = await makeCreator();
      await makeActiveProfile(owner.creator.id);
      const deploy = JSON.stringify({ query: print(DeployAgent), variables: { input: { creatorId: owner.gid } } });
      expect(JSON.parse((await post(deploy, owner.creatorKey)).body).data.deployAgent.__typename).toBe("Agent");
      const controller = new AbortController();
      const decided = new Set<string>();
      const response = await postSubscription(
        url,
        "subscription D($creatorId: ID) { agentDecisions(creatorId: $creatorId) { event { id } } }",
        { creatorId: owner.gid },
        owner.creatorKey,
        controller.signal,
      );
      expect(response.status).toBe(200);
      const reading = readFrames(response.body as ReadableStream<Uint8Array>, (frame) => {
        if (frame.event === "next" && frame.data) decided.add(JSON.parse(frame.data).data.agentDecisions.event.id);
      });
      try {
        await reading.opened;
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) {
          const answer = JSON.parse((await post(ingestBody(owner.gid, `s${i}`), owner.creatorKey)).body);
          ids.push(answer.data.ingestEvent.event.id);
        }
        await eventually(async () => (ids.every((id) => decided.has(id)) ? true : undefined), 20_000, "every decision");
      } finally {
        controller.abort();
        await reading.ended;
        await worker.close();
      }
    },
    CHILD_PROCESS_TEST_MS,
  );

  it(
    "replaces a process that dies while the other serves, and stops every process on SIGTERM",
    async () => {
      const [victim, survivor] = apiProcesses();
      process.kill(victim, "SIGKILL");
      const replaced = await eventually(async () => {
        const now = apiProcesses();
        return now.length === PROCESSES && !now.includes(victim) ? now : undefined;
      }, 30_000);
      expect(replaced).toContain(survivor);
      await waitForHttp(url.replace("/graphql", "/health"));

      api.kill("SIGTERM");
      expect(await apiExit).toBe(0);
      for (const pid of replaced) expect(() => process.kill(pid, 0), `process ${pid}`).toThrow();
    },
    CHILD_PROCESS_TEST_MS,
  );
});
