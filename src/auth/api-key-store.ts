import { pool } from "../db/client.js";
import type { ReadSql } from "../db/reads.js";
import type { Sql } from "../db/transaction.js";
import type { ApiKey } from "../generated/prisma/client.js";
import type { ApiKeyKind } from "../generated/prisma/enums.js";

// The api_keys table: every statement that writes it, and the reads authentication and the key
// mutations make of it. GraphQL reads it through Prisma (schema.ts). Only a key's SHA-256 is stored.

/** What authentication reads of a key. */
export type KeyToVerify = Pick<ApiKey, "id" | "kind" | "creatorId" | "prefix" | "lastUsedAt" | "revokedAt">;

/** The key whose secret has this SHA-256 (hex); null for an unknown one. */
export async function findKeyByHash(hash: string): Promise<KeyToVerify | null> {
  const { rows } = await pool.query<KeyToVerify>(
    `SELECT id, kind, "creatorId", prefix, "lastUsedAt", "revokedAt" FROM api_keys WHERE hash = $1`,
    [hash],
  );
  return rows[0] ?? null;
}

/** The key with this id, or null. */
export async function findApiKey(tx: Sql, id: string): Promise<ApiKey | null> {
  const { rows } = await tx.query<ApiKey>(`SELECT * FROM api_keys WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/**
 * Whether the server `reads` reads from holds the key with this id: a read replica that does not
 * yet (its replay behind the key's creation) lacks what was written before the key was made.
 */
export async function holdsApiKey(reads: ReadSql, id: string): Promise<boolean> {
  return (await reads.read(`SELECT 1 FROM api_keys WHERE id = $1`, [id])).length > 0;
}

/** Inserts a key; `prefix` is the secret's first characters, `hash` its SHA-256 (hex). */
export async function insertApiKey(
  tx: Sql,
  key: { kind: ApiKeyKind; creatorId: string | null; name: string; prefix: string; hash: string },
): Promise<ApiKey> {
  const { rows } = await tx.query<ApiKey>(
    `INSERT INTO api_keys (kind, "creatorId", name, prefix, hash) VALUES ($1::"ApiKeyKind", $2, $3, $4, $5) RETURNING *`,
    [key.kind, key.creatorId, key.name, key.prefix, key.hash],
  );
  return rows[0];
}

/** Revokes the key from now; answers it as it now is. */
export async function markApiKeyRevoked(tx: Sql, id: string): Promise<ApiKey> {
  const { rows } = await tx.query<ApiKey>(`UPDATE api_keys SET "revokedAt" = now() WHERE id = $1 RETURNING *`, [id]);
  return rows[0];
}

/** Records that the key was used now. */
export async function markApiKeyUsed(id: string): Promise<void> {
  await pool.query(`UPDATE api_keys SET "lastUsedAt" = now() WHERE id = $1`, [id]);
}
