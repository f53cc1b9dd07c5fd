import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll } from "vitest";

// Each test file gets its own database, copied from the run's migrated template, and its own
// queue and pub/sub namespace: a worker's sweeper in one file never picks up another file's
// events, and no file sees another's rows. Set before any module reads the configuration.

const template = process.env.TEST_TEMPLATE_DATABASE_URL as string;
const name = `closer_file_${randomBytes(6).toString("hex")}`;
const fileUrl = new URL(template);
fileUrl.pathname = `/${name}`;
const adminUrl = new URL(template);
adminUrl.pathname = "/postgres";

async function asAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl.toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const templateName = decodeURIComponent(new URL(template).pathname.slice(1));
await asAdmin((admin) => admin.query(`CREATE DATABASE "${name}" TEMPLATE "${templateName}"`));
process.env.DATABASE_URL = fileUrl.toString();
process.env.REDIS_PREFIX = `test-${randomBytes(4).toString("hex")}`;

afterAll(async () => {
  if (process.env.KEEP_TEST_DATABASE) return;
  await asAdmin(async (admin) => {
    // Pools close their sockets a moment after end() resolves: wait for that, then FORCE away
    // whatever a file left open.
    for (let wait = 0; wait < 50; wait++) {
      const { rows } = await admin.query<{ open: number }>(
        "SELECT count(*)::int AS open FROM pg_stat_activity WHERE datname = $1",
        [name],
      );
      if (rows[0].open === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
});
