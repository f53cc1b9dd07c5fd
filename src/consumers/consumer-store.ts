import { pool } from "../db/client.js";
import type { Sql } from "../db/transaction.js";

// The consumers table: who a creator's consumers are (the identity rules that decide it are in
// consumer-identity.ts) and the WhatsApp id WhatsApp knows each by.

/** A consumer row as the identity rules read and write it; null where it has no value. */
export type Person = {
  id: string;
  externalId: string | null;
  email: string | null;
  phone: string | null;
  name: string | null;
  timezone: string | null;
};

/** The columns a creator's consumers hold one value each of (unique per creator). */
export type Unique = "externalId" | "email" | "phone";
export const UNIQUE: Unique[] = ["externalId", "email", "phone"];
export const IDENTITY_COLUMNS: (keyof Omit<Person, "id">)[] = [...UNIQUE, "name", "timezone"];

/** Stored consumers' changed columns, by consumer id (a column's only change is to a value). */
export type ConsumerChanges = Map<string, Partial<Omit<Person, "id">>>;

/** The creator's consumers that any of these references names by external id, email or phone. */
export async function findConsumersNamed(
  client: Sql,
  creatorId: string,
  people: Partial<Record<Unique, string | null>>[],
): Promise<Person[]> {
  const values = (f: Unique) => [...new Set(people.map((p) => p[f]).filter((v): v is string => !!v))];
  const { rows } = await client.query<Person>(
    `SELECT id, "externalId", email, phone, name, timezone FROM consumers
      WHERE "creatorId" = $1 AND ("externalId" = ANY($2) OR email = ANY($3) OR phone = ANY($4))`,
    [creatorId, values("externalId"), values("email"), values("phone")],
  );
  return rows;
}

/** Inserts new consumers, skipping any a concurrent request stored first; answers how many were inserted. */
export async function insertConsumers(client: Sql, creatorId: string, fresh: Person[]): Promise<number> {
  const { rowCount } = await client.query(
    `INSERT INTO consumers (id, "creatorId", "externalId", email, phone, name, timezone)
     SELECT id, $1::uuid, external_id, email, phone, name, timezone
       FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
         AS n(id, external_id, email, phone, name, timezone)
     ON CONFLICT DO NOTHING`,
    [creatorId, ...(["id", ...IDENTITY_COLUMNS] as const).map((f) => fresh.map((p) => p[f]))],
  );
  return rowCount ?? 0;
}

/** Writes only the changed columns, so a concurrent change to another column is not undone. */
export async function updateConsumers(client: Sql, changes: ConsumerChanges): Promise<void> {
  if (changes.size === 0) return;
  // In id order, like the context upsert, so concurrent batches lock consumers in one order.
  const entries = [...changes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  await client.query(
    `UPDATE consumers c SET
       "externalId" = COALESCE(m.external_id, c."externalId"),
       email = COALESCE(m.email, c.email),
       phone = COALESCE(m.phone, c.phone),
       name = COALESCE(m.name, c.name),
       timezone = COALESCE(m.timezone, c.timezone),
       "updatedAt" = now()
     FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
       AS m(id, external_id, email, phone, name, timezone)
     WHERE c.id = m.id`,
    [entries.map(([id]) => id), ...IDENTITY_COLUMNS.map((f) => entries.map(([, m]) => m[f] ?? null))],
  );
}

/**
 * Stores the WhatsApp id (wa_id) WhatsApp gave for a consumer, in a send answer's contact or a
 * callback's `from`/`recipient_id`: the key inbound messages are matched by first. No write when
 * it is already stored (the common case: every send answer repeats it).
 */
export function rememberWaId(consumerId: string, waId: string): Promise<void> {
  return rememberWaIds([{ consumerId, waId }]);
}

/** rememberWaId for a batch of send answers, in one statement (a consumer named twice keeps the last). */
export async function rememberWaIds(ids: { consumerId: string; waId: string }[]): Promise<void> {
  if (ids.length === 0) return;
  const last = new Map(ids.map((i) => [i.consumerId, i.waId]));
  await pool.query(
    `UPDATE consumers c SET "waId" = w."waId", "updatedAt" = now()
       FROM unnest($1::uuid[], $2::text[]) AS w(id, "waId")
      WHERE c.id = w.id AND c."waId" IS DISTINCT FROM w."waId"`,
    [[...last.keys()], [...last.values()]],
  );
}
