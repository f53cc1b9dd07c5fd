// Creates the database if it is missing (migrate deploy through the adapter does not), then
// applies the committed migrations.
import pg from "pg";
import { databaseUrl } from "../src/db/database-url.js";
import { runPrisma } from "./prisma.js";

export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (!rowCount) await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

/**
 * Creates the database if missing and applies the pending migrations. With `quiet`, Prisma's
 * report is replaced by one line: the migrations applied, or that there were none.
 */
export async function migrate(url = databaseUrl(), { quiet = false } = {}): Promise<void> {
  await ensureDatabase(url);
  const report = runPrisma(["migrate", "deploy"], { ...process.env, DATABASE_URL: url }, { quiet });
  if (!quiet) return;
  // Prisma lists what it applied as a tree: "└─ 20261130065431_creator_analytics/".
  const applied = [...report.matchAll(/└─ (\d{14}_\w+)\//g)].map((m) => m[1]);
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  console.log(`Database ${name}: ${applied.length ? `applied ${applied.join(", ")}` : "migrations up to date"}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  migrate().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
