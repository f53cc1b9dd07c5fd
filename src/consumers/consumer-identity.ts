import type { PoolClient } from "pg";
import type { ConsumerInput } from "./consumer-input.js";

export type ConsumerRow = { id: string; externalId: string | null; email: string | null; phone: string | null };

type Identity = Pick<ConsumerInput, "externalId" | "email" | "phone" | "name" | "timezone">;

const asRow = (who: Identity): ConsumerRow => ({
  id: "",
  externalId: who.externalId ?? null,
  email: who.email ?? null,
  phone: who.phone ?? null,
});

function matches(row: ConsumerRow, who: Identity): boolean {
  return (
    (!!who.externalId && row.externalId === who.externalId) ||
    (!!who.email && row.email === who.email) ||
    (!!who.phone && row.phone === who.phone)
  );
}

/** The row a consumer reference names: externalId first, then email, then phone. */
function pick(rows: ConsumerRow[], who: Identity): ConsumerRow | undefined {
  return (
    rows.find((r) => who.externalId && r.externalId === who.externalId) ??
    rows.find((r) => who.email && r.email === who.email) ??
    rows.find((r) => who.phone && r.phone === who.phone)
  );
}

async function findConsumers(client: PoolClient, creatorId: string, people: Identity[]): Promise<ConsumerRow[]> {
  const ids = (f: keyof Identity) => [...new Set(people.map((p) => p[f]).filter((v): v is string => !!v))];
  const { rows } = await client.query<ConsumerRow>(
    `SELECT id, "externalId", email, phone FROM consumers
      WHERE "creatorId" = $1 AND ("externalId" = ANY($2) OR email = ANY($3) OR phone = ANY($4))`,
    [creatorId, ids("externalId"), ids("email"), ids("phone")],
  );
  return rows;
}

/**
 * Finds or creates the consumer behind each reference, merging new contact details into known
 * consumers (a detail already used by another consumer of the creator is left where it is).
 * Concurrent requests for a new consumer create one row: the insert skips any unique conflict
 * and the loser reads the winner's row.
 */
export async function resolveConsumers(client: PoolClient, creatorId: string, people: Identity[]): Promise<string[]> {
  let known = await findConsumers(client, creatorId, people);

  const missing: Identity[] = [];
  for (const who of people) {
    if (!pick(known, who) && !missing.some((m) => matches(asRow(m), who))) {
      missing.push(who);
    }
  }
  if (missing.length > 0) {
    await client.query(
      `INSERT INTO consumers ("creatorId", "externalId", email, phone, name, timezone)
       SELECT $1::uuid, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
       ON CONFLICT DO NOTHING`,
      [
        creatorId,
        missing.map((m) => m.externalId ?? null),
        missing.map((m) => m.email ?? null),
        missing.map((m) => m.phone ?? null),
        missing.map((m) => m.name ?? null),
        missing.map((m) => m.timezone ?? null),
      ],
    );
    known = await findConsumers(client, creatorId, people);
  }

  // Fill in details the known row lacks, unless another consumer already holds them.
  const merges = new Map<string, Identity>();
  for (const who of people) {
    const row = pick(known, who);
    if (!row) continue;
    const takenBy = (f: "externalId" | "email" | "phone") => known.some((r) => r.id !== row.id && r[f] === who[f]);
    const merge = merges.get(row.id) ?? {};
    if (who.externalId && !row.externalId && !takenBy("externalId")) merge.externalId ??= who.externalId;
    if (who.email && !row.email && !takenBy("email")) merge.email ??= who.email;
    if (who.phone && !row.phone && !takenBy("phone")) merge.phone ??= who.phone;
    if (who.name) merge.name = who.name;
    if (who.timezone) merge.timezone = who.timezone;
    if (Object.keys(merge).length > 0) merges.set(row.id, merge);
  }
  if (merges.size > 0) {
    const entries = [...merges];
    await client.query(
      `UPDATE consumers c SET
         "externalId" = COALESCE(c."externalId", m.external_id),
         email = COALESCE(c.email, m.email),
         phone = COALESCE(c.phone, m.phone),
         name = COALESCE(m.name, c.name),
         timezone = COALESCE(m.timezone, c.timezone),
         "updatedAt" = now()
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
         AS m(id, external_id, email, phone, name, timezone)
       WHERE c.id = m.id`,
      [
        entries.map(([id]) => id),
        entries.map(([, m]) => m.externalId ?? null),
        entries.map(([, m]) => m.email ?? null),
        entries.map(([, m]) => m.phone ?? null),
        entries.map(([, m]) => m.name ?? null),
        entries.map(([, m]) => m.timezone ?? null),
      ],
    );
  }

  return people.map((who) => {
    const row = pick(known, who);
    if (!row) throw new Error("consumer could not be resolved");
    return row.id;
  });
}
