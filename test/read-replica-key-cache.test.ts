import { setTimeout as sleep } from "node:timers/promises";
import { parse } from "graphql";
import { afterAll, describe, expect, it, vi } from "vitest";

// Read-your-writes for a key minted a moment ago (README "Read replica"): its queries read the
// primary until the replica holds the key, which read-routing asks of the replica itself and
// remembers per process. An answer the primary gave in the replica's stead (a fallback while the
// replica failed) must not be remembered as the replica's: once the replica is back without the
// key (restarted behind, delayed, rebuilt from an older backup), the key would read a replica
// lacking its own creator. A primary, a standby and a Redis of this file's own.
const services = await vi.hoisted(async () => {
  const { startReplicatedServices } = await import("./support/private-services.js");
  return startReplicatedServices("closer_replica_keycache", {
    redis: true,
    settings: { DATABASE_READ_MAX_LAG_MS: "300000", DATABASE_CONNECT_TIMEOUT_MS: "1000" },
  });
});
const { replica } = services;

import { makeCreator } from "../scripts/fixtures.js";
import { readRouting } from "../src/api/read-routing.js";
import { pool } from "../src/db/client.js";
import { closeReadReplica, readReplica } from "../src/db/reads.js";
import { closeRedis, createCommandRedis } from "../src/redis.js";

const command = createCommandRedis("read-routing");
afterAll(async () => {
  await closeRedis(command);
  await closeReadReplica();
  await pool.end();
  await services.remove();
});

async function keyIdOf(creatorId: string): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `SELECT id FROM api_keys WHERE "creatorId" = $1 AND kind = 'CREATOR'`,
    [creatorId],
  );
  return rows[0].id;
}

describe("whether the replica holds a key", () => {
  it("is asked of the replica alone: a key met while the replica failed reads the primary until the replica has it", async () => {
    const plugin = readRouting(command) as {
      onExecute: (p: { args: unknown; extendContext: (c: unknown) => void }) => Promise<unknown>;
    };
    /** Whether a query of this key is sent to the replica. */
    const routedToReplica = async (keyId: string) => {
      let extended = false;
      await plugin.onExecute({
        args: {
          document: parse("query { viewer { __typename } }"),
          contextValue: { viewer: { kind: "CREATOR", keyId } },
        },
        extendContext: () => {
          extended = true;
        },
      });
      return extended;
    };

    // The standby applies nothing committed from now on (a delayed or restored-behind replica).
    await replica.query("ALTER SYSTEM SET recovery_min_apply_delay = '1h'");
    await replica.query("SELECT pg_reload_conf()");
    await sleep(500);
    const fresh = await makeCreator();
    const control = await makeCreator();
    const [key, controlKey] = [await keyIdOf(fresh.creator.id), await keyIdOf(control.creator.id)];

    // The replica goes away; the key's first query meets the failure (falls back to the primary).
    await replica.stop("fast");
    await routedToReplica(key);
    await replica.start();
    // Back (the probe runs every second), still without either key.
    for (let i = 0; i < 50 && !readReplica()?.available; i++) await sleep(200);
    expect(readReplica()?.available).toBe(true);
    expect(await replica.query(`SELECT count(*)::int AS n FROM api_keys`)).toEqual([{ n: 0 }]);

    const controlRouted = await routedToReplica(controlKey);
    const keyRouted = await routedToReplica(key);
    const creatorOnReplica = await readReplica()?.reads.db.creator.findUnique({ where: { id: fresh.creator.id } });
    // The replica lacks both keys' creators: neither key reads it.
    expect({ controlRouted, keyRouted, creatorOnReplica }).toEqual({
      controlRouted: false,
      keyRouted: false,
      creatorOnReplica: null,
    });
  }, 90_000);
});
