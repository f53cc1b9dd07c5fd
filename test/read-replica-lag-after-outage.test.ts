import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it, vi } from "vitest";

// The lag guard (DATABASE_READ_MAX_LAG_MS, README "Read replica") across a replica outage: the
// primary's WAL position is noted while the replica is away too, and a replica coming back is held
// to the bound before it serves. One that returns far behind (catching up on the outage's WAL, or
// delayed) serves no query until it has caught up. Bound 2 s, outage ~6 s; a primary, a standby
// and a Redis of this file's own.

const MAX_LAG_MS = 2_000;
const services = await vi.hoisted(async () => {
  const { startReplicatedServices } = await import("./support/private-services.js");
  return startReplicatedServices("closer_replica_lag", {
    redis: true,
    settings: { DATABASE_READ_MAX_LAG_MS: "2000", DATABASE_CONNECT_TIMEOUT_MS: "1000" },
  });
});
const { replica } = services;

import { makeCreator } from "../scripts/fixtures.js";
import { pool } from "../src/db/client.js";
import { closeReadReplica, readReplica } from "../src/db/reads.js";
import { logger } from "../src/logger.js";

afterAll(async () => {
  await closeReadReplica();
  await pool.end();
  await services.remove();
});

describe("lag guard after a replica outage", () => {
  it("keeps a replica that returns further behind than the bound from serving, its reads answered by the primary", async () => {
    const pooled = readReplica();
    if (!pooled) throw new Error("no replica");
    await sleep(3_000); // the guard has noted positions; the replica keeps up
    expect(pooled.available).toBe(true);

    // From now on the standby applies nothing (a stand-in for a long catch-up), then it stops.
    await replica.query("ALTER SYSTEM SET recovery_min_apply_delay = '1h'");
    await replica.query("SELECT pg_reload_conf()");
    await sleep(300);
    await replica.stop("fast");
    for (let i = 0; i < 50 && pooled.available; i++) await sleep(100);
    expect(pooled.available).toBe(false);

    // Writes on the primary while the replica is away, longer ago than the bound at its return.
    const made = await makeCreator();
    const madeAt = Date.now();
    await sleep(6_000);
    await replica.start();
    // Taken back once it answers (the probe runs every second), held to the bound then.
    const info = vi.spyOn(logger, "info");
    const taken = () =>
      info.mock.calls.some((call) =>
        call.some((arg) => typeof arg === "string" && arg.startsWith("read replica available again")),
      );
    for (let i = 0; i < 100 && !taken(); i++) await sleep(100);
    expect(taken()).toBe(true);
    const back = Date.now();
    const available = pooled.available;
    const found = await pooled.reads.db.creator.findUnique({ where: { id: made.creator.id } });
    expect(back - madeAt).toBeGreaterThan(3 * MAX_LAG_MS);
    // Not the replica's to answer: the primary does, and has the write.
    expect(available).toBe(false);
    expect(found?.id).toBe(made.creator.id);
  }, 90_000);
});
