import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import type { RedisOptions } from "ioredis";
import { afterAll, describe, expect, it, vi } from "vitest";

// REDIS_URL and REDIS_CLUSTER values that used to be accepted though wrong for the Redis they name:
// nodes that differ in scheme or credentials from the first (refused at load); one node of a
// Redis Cluster taken for a single Redis, or a single Redis taken for a cluster (found when a
// connection first comes up: the process stops with the setting to change, while a Redis that
// cannot be reached is waited for as an outage); and a TLS cluster's options. In process against
// a private cluster of this file's own; the mismatches run Closer's entries as children, since
// the configuration is read once per process. The shared Redis on 6379 is not touched.
const cluster = await vi.hoisted(async () => {
  const { startPrivateRedisCluster } = await import("./support/private-services.js");
  const started = await startPrivateRedisCluster();
  Object.assign(process.env, { REDIS_URL: started.url });
  return started;
});

import { type ConfigError, config, loadConfig } from "../src/config.js";
import { closeRedis, clusterOptions, createCommandRedis, probeRedisMode, redisModeProblem } from "../src/redis.js";
import { type PrivateRedis, startPrivateRedis } from "./support/private-services.js";
import { CHILD_PROCESS_TEST_MS, eventually } from "./support/processes.js";

const children: ChildProcess[] = [];
let plainRedis: PrivateRedis | undefined;

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await plainRedis?.remove();
  await cluster.remove();
}, 60_000);

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    return (error as ConfigError).problems;
  }
}

describe("REDIS_URL's nodes", () => {
  it("must share the first node's scheme, and its credentials or none, since the first's apply to every node", () => {
    expect(problemsOf({ REDIS_URL: "redis://10.0.0.1:7000,rediss://10.0.0.2:7000" })).toEqual([
      'REDIS_URL="redis://10.0.0.1:7000,rediss://10.0.0.2:7000": node 2 (10.0.0.2:7000) is rediss:// but the first is redis://, whose scheme applies to every node (rediss:// is TLS): give every node the same',
    ]);
    expect(problemsOf({ REDIS_URL: "rediss://:a@n1:7000,rediss://:a@n2:7000,rediss://:b@n3:7000" })).toEqual([
      expect.stringMatching(/node 3 \(n3:7000\) gives other credentials than the first, whose credentials apply/),
    ]);
    // Another user with the same password, or credentials where the first has none.
    expect(problemsOf({ REDIS_URL: "redis://app:a@n1:7000,redis://:a@n2:7000" })).toEqual([
      expect.stringMatching(/node 2 \(n2:7000\) gives other credentials/),
    ]);
    expect(problemsOf({ REDIS_URL: "redis://n1:7000,redis://app:a@n2:7000" })).toEqual([
      expect.stringMatching(/node 2 \(n2:7000\) gives other credentials/),
    ]);
    // The same credentials again, or none: the first's apply.
    for (const REDIS_URL of [
      "rediss://app:a@n1:7000,rediss://app:a@n2:7000",
      "rediss://app:a@n1:7000,rediss://n2:7000",
    ]) {
      expect(loadConfig({ REDIS_URL })).toMatchObject({ REDIS_URL, REDIS_CLUSTER: true });
    }
  });

  it("of a cluster take no options, which would reach the nodes named only; a single Redis's do", () => {
    expect(problemsOf({ REDIS_URL: "redis://n1:7000,redis://n2:7000?family=6" })).toEqual([
      expect.stringMatching(/^REDIS_URL=".*": a Redis Cluster's URLs take no options/),
    ]);
    expect(problemsOf({ REDIS_URL: "redis://cfg:7000?family=6", REDIS_CLUSTER: "true" })).toHaveLength(1);
    expect(loadConfig({ REDIS_URL: "redis://127.0.0.1:6379?family=4" }).REDIS_CLUSTER).toBe(false);
  });
});

describe("a TLS cluster's options", () => {
  const options: RedisOptions = { lazyConnect: true, commandTimeout: 500 };

  it("keep host names from DNS (certificates name hosts), with TLS and the first node's credentials on every node", () => {
    const built = clusterOptions("rediss://app:p%40ss@cfg.example.com:6379", "closer-test", options);
    expect(built.lazyConnect).toBe(true);
    expect(built.redisOptions).toEqual({
      connectionName: "closer-test",
      username: "app",
      password: "p@ss",
      tls: {},
      commandTimeout: 500,
    });
    let resolved: string | undefined;
    built.dnsLookup?.("cfg.example.com", (_error, address) => {
      resolved = address;
    });
    expect(resolved).toBe("cfg.example.com");
  });

  it("leave a plain (redis://) cluster as it was: no TLS, ioredis' own DNS lookup", () => {
    const built = clusterOptions("redis://10.0.0.1:7000,redis://10.0.0.2:7000", "closer-test", options);
    expect(built.dnsLookup).toBeUndefined();
    expect(built.redisOptions).toEqual({ connectionName: "closer-test", commandTimeout: 500 });
  });
});

describe("REDIS_CLUSTER against the Redis that REDIS_URL names", () => {
  it("names the setting to change when they disagree", () => {
    expect(redisModeProblem(true, true)).toBeNull();
    expect(redisModeProblem(false, false)).toBeNull();
    expect(redisModeProblem(true, false)).toMatch(/^REDIS_URL names a node of a Redis Cluster.*Set REDIS_CLUSTER=true/);
    expect(redisModeProblem(false, true)).toMatch(/^REDIS_URL names a single Redis.*Unset REDIS_CLUSTER/);
  });

  it("agrees for a cluster named by its nodes: its connections work and the process goes on", async () => {
    expect(config().REDIS_CLUSTER).toBe(true);
    expect(await probeRedisMode()).toBe(true);
    const redis = createCommandRedis("closer-mode-test");
    try {
      // The first ready runs the process's check; a disagreement would end this process.
      for (let i = 0; i < 20; i++) await redis.set(`mode-test-${i}`, "1");
      await sleep(500);
      expect(await redis.get("mode-test-7")).toBe("1");
    } finally {
      await closeRedis(redis);
    }
  });
});

type Run = { child: ChildProcess; output: () => string; exited: Promise<number | null> };

/** Starts a Closer entry as `npm start` does, with these settings over this file's; its output is kept. */
function run(entry: string, env: Record<string, string>): Run {
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    env: { ...process.env, LOG_LEVEL: "warn", PORT: "0", WORKER_METRICS_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe("a process whose REDIS_CLUSTER disagrees with its Redis", () => {
  it(
    "stops with exit code 1 and the setting to change: the API on one node of a cluster",
    async () => {
      const api = run("src/server.ts", { REDIS_URL: cluster.url.split(",")[0], REDIS_CLUSTER: "" });
      expect(await api.exited, api.output()).toBe(1);
      expect(api.output()).toMatch(/REDIS_URL names a node of a Redis Cluster.*Set REDIS_CLUSTER=true/);
    },
    CHILD_PROCESS_TEST_MS,
  );

  it(
    "waits out a Redis it cannot reach, then stops once it answers as a single Redis: the worker with REDIS_CLUSTER=true",
    async () => {
      plainRedis = await startPrivateRedis();
      await plainRedis.stop();
      const worker = run("worker/main.ts", { REDIS_URL: plainRedis.url, REDIS_CLUSTER: "true" });
      // Unreachable is an outage, not an answer: the worker starts and keeps running.
      await eventually(
        async () => (/Redis unavailable; retrying/.test(worker.output()) ? true : undefined),
        60_000,
        "the worker reporting the outage",
        100,
      );
      await sleep(2_000);
      expect({ exitCode: worker.child.exitCode, output: worker.output() }).toMatchObject({ exitCode: null });
      expect(worker.output()).not.toMatch(/cluster_enabled/);

      await plainRedis.start();
      expect(await worker.exited, worker.output()).toBe(1);
      expect(worker.output()).toMatch(/REDIS_URL names a single Redis, not a Redis Cluster.*Unset REDIS_CLUSTER/);
    },
    CHILD_PROCESS_TEST_MS,
  );
});
