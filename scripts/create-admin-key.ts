// Creates a platform-operator (admin) API key and prints it once: only its hash is stored.
import { createApiKey } from "../src/auth/api-keys.js";
import { db, pool } from "../src/db/client.js";

const name = process.argv[2] ?? "first admin key";
const { apiKey, secret } = await createApiKey({ kind: "ADMIN", name }, null);
console.log(`Admin API key "${apiKey.name}" (id ${apiKey.id}). It is shown once; keep it safe:\n\n${secret}\n`);
await db.$disconnect();
await pool.end();
