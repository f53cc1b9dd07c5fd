import { randomBytes } from "node:crypto";
import pg from "pg";
import { migrate } from "../../scripts/migrate.js";

// One fresh database per test run, made with the real committed migrations: the template each
// test file copies its own database from (per-file-setup.ts). Dropped afterwards.
export default async function setup() {
  const base = new URL(process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres");
  const name = `closer_test_${Date.now()}_${randomBytes(3).toString("hex")}`;
  base.pathname = `/${name}`;
  const url = base.toString();
  await migrate(url);
  process.env.TEST_TEMPLATE_DATABASE_URL = url;
  process.env.DATABASE_URL = url;
  process.env.NODE_ENV = "test";
  process.env.LOG_LEVEL ??= "silent";
  // The tests' stand-ins for agent services, webhook receivers and providers listen on loopback:
  // admitted as an operator would admit internal hosts. The SSRF tests set their own list.
  process.env.OUTBOUND_ALLOWED_HOSTS ??= "127.0.0.1";

  return async () => {
    if (process.env.KEEP_TEST_DATABASE) return;
    const admin = new URL(url);
    admin.pathname = "/postgres";
    const client = new pg.Client({ connectionString: admin.toString() });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.end();
  };
}
