import { DatabaseError } from "pg";
import type { Sql } from "../db/transaction.js";
import type { Creator } from "../generated/prisma/client.js";
import type { Channel, CreatorStatus, QuietHoursPolicy } from "../generated/prisma/enums.js";

// The creators table: every statement that writes it, and the reads a write transaction makes of
// it. GraphQL reads it through Prisma (schema.ts).

/** A channel's cap as stored in `frequencyCaps`: at most `max` messages per consumer in `windowHours`. */
export type StoredFrequencyCaps = Partial<Record<Channel, { max: number; windowHours: number }>>;

/** The columns a caller sets; id, createdAt and updatedAt are the database's and the store's. */
export type CreatorFields = {
  name: string;
  handle: string;
  email: string | null;
  /** E.164. */
  phone: string | null;
  /** IANA zone. */
  timezone: string;
  status: CreatorStatus;
  /** Minutes after local midnight. */
  quietHoursStart: number;
  quietHoursEnd: number;
  quietHoursPolicy: QuietHoursPolicy;
  frequencyCaps: StoredFrequencyCaps;
};

/** Each settable column's SQL type, which its parameter is cast to. */
const COLUMN_TYPES: Record<keyof CreatorFields, string> = {
  name: "text",
  handle: "text",
  email: "text",
  phone: "text",
  timezone: "text",
  status: '"CreatorStatus"',
  quietHoursStart: "integer",
  quietHoursEnd: "integer",
  quietHoursPolicy: '"QuietHoursPolicy"',
  frequencyCaps: "jsonb",
};
const SETTABLE = Object.keys(COLUMN_TYPES) as (keyof CreatorFields)[];

/**
 * The fields given (not undefined) as quoted column names, cast placeholders ($1...) and values.
 * Column names come from COLUMN_TYPES, never from the caller.
 */
function columnsOf(fields: Partial<CreatorFields>) {
  const given = SETTABLE.filter((column) => fields[column] !== undefined);
  return {
    columns: given.map((column) => `"${column}"`),
    placeholders: given.map((column, i) => `$${i + 1}::${COLUMN_TYPES[column]}`),
    values: given.map((column) => (column === "frequencyCaps" ? JSON.stringify(fields[column]) : fields[column])),
  };
}

/** Whether `error` is the unique violation of an existing creator's handle. */
export function isHandleTaken(error: unknown): boolean {
  return error instanceof DatabaseError && error.code === "23505" && error.constraint === "creators_handle_key";
}

/**
 * Inserts a creator; the fields left out take the column defaults (ACTIVE, UTC, quiet hours
 * 21:00 to 08:00 deferred, no caps). Throws the unique violation of a taken handle (isHandleTaken).
 */
export async function insertCreator(
  tx: Sql,
  fields: Pick<CreatorFields, "name" | "handle"> & Partial<CreatorFields>,
): Promise<Creator> {
  const { columns, placeholders, values } = columnsOf(fields);
  const { rows } = await tx.query<Creator>(
    `INSERT INTO creators (${columns.join(", ")}, "updatedAt") VALUES (${placeholders.join(", ")}, now()) RETURNING *`,
    values,
  );
  return rows[0];
}

/**
 * Sets the given fields of a creator; null when there is none. Given no field, answers the row as
 * it is without writing it (updatedAt unchanged). Throws the unique violation of a taken handle.
 */
export async function updateCreatorFields(
  tx: Sql,
  id: string,
  fields: Partial<CreatorFields>,
): Promise<Creator | null> {
  const { columns, placeholders, values } = columnsOf(fields);
  const assignments = columns.map((column, i) => `${column} = ${placeholders[i]}`);
  const { rows } = await tx.query<Creator>(
    assignments.length === 0
      ? `SELECT * FROM creators WHERE id = $1`
      : `UPDATE creators SET ${assignments.join(", ")}, "updatedAt" = now() WHERE id = $${values.length + 1} RETURNING *`,
    assignments.length === 0 ? [id] : [...values, id],
  );
  return rows[0] ?? null;
}

/** ONBOARDING becomes ACTIVE; any other status stays. Whether the creator was activated. */
export async function activateOnboardedCreator(tx: Sql, id: string): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE creators SET status = 'ACTIVE', "updatedAt" = now() WHERE id = $1 AND status = 'ONBOARDING'`,
    [id],
  );
  return (rowCount ?? 0) > 0;
}

/** The id of the creator with this handle, or null. */
export async function findCreatorIdByHandle(tx: Sql, handle: string): Promise<string | null> {
  const { rows } = await tx.query<{ id: string }>(`SELECT id FROM creators WHERE handle = $1`, [handle]);
  return rows[0]?.id ?? null;
}

/** Whether a creator has this id. */
export async function creatorExists(sql: Sql, id: string): Promise<boolean> {
  const { rowCount } = await sql.query(`SELECT 1 FROM creators WHERE id = $1`, [id]);
  return (rowCount ?? 0) > 0;
}

/**
 * Locks the creator's row until the transaction ends, so changes that must follow one another
 * (profile versions) do; null when there is no such creator. FOR NO KEY UPDATE, not FOR UPDATE:
 * inserts of rows that reference the creator (events, consumers) take a key-share lock, which
 * this one does not block.
 */
export async function lockCreator(tx: Sql, id: string): Promise<{ id: string; name: string } | null> {
  const { rows } = await tx.query<{ id: string; name: string }>(
    `SELECT id, name FROM creators WHERE id = $1 FOR NO KEY UPDATE`,
    [id],
  );
  return rows[0] ?? null;
}
