import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { defineConfig } from "prisma/config";
import { catalogSafePool } from "./src/db/catalog-safe-pool.js";
import { databaseUrl } from "./src/db/database-url.js";

// Migrations run through the WebAssembly schema engine and @prisma/adapter-pg: no native
// engine download is possible on our machines (see shared/notes/prisma-offline.md).
function migrationAdapter(url: string): SqlMigrationAwareDriverAdapterFactory {
  const main = new PrismaPg(catalogSafePool(url), { disposeExternalPool: true });
  return {
    provider: "postgres",
    adapterName: main.adapterName,
    connect: () => main.connect(),
    // adapter-pg's own shadow database ignores `database` when a connection string is set and
    // drops the database before closing its pool; this one connects by URL and closes first.
    async connectToShadowDb() {
      const name = `prisma_shadow_${crypto.randomUUID().replaceAll("-", "")}`;
      const admin = catalogSafePool(url);
      await admin.query(`CREATE DATABASE "${name}"`);
      const shadowUrl = new URL(url);
      shadowUrl.pathname = `/${name}`;
      const adapter = await new PrismaPg(catalogSafePool(shadowUrl.toString()), {
        disposeExternalPool: true,
      }).connect();
      const dispose = adapter.dispose.bind(adapter);
      adapter.dispose = async () => {
        await dispose();
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await admin.end();
      };
      return adapter;
    },
  };
}

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "prisma/schema.prisma",
  adapter: async () => migrationAdapter(databaseUrl()),
});
