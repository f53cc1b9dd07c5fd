import { randomUUID } from "node:crypto";
import type { PoolClient } from "pg";
import type { ConsumerInput } from "./consumer-input.js";
import { type IdentityConflict, recordIdentityConflicts } from "./identity-conflicts.js";

type Identity = Pick<ConsumerInput, "externalId" | "email" | "phone" | "name" | "timezone">;

/** A consumer row as the identity rules read and write it; null where it has no value. */
type Person = {
  id: string;
  externalId: string | null;
  email: string | null;
  phone: string | null;
  name: string | null;
  timezone: string | null;
};

/** The columns a creator's consumers hold one value each of (unique per creator). */
type Unique = "externalId" | "email" | "phone";
const UNIQUE: Unique[] = ["externalId", "email", "phone"];
const COLUMNS: (keyof Omit<Person, "id">)[] = [...UNIQUE, "name", "timezone"];

/** What one pass over a batch decided; nothing is written until it is applied. */
type Plan = {
  /** The consumer of each input, in input order. */
  ids: string[];
  /** New consumers, with their ids chosen here so the plan can name them before they exist. */
  fresh: Person[];
  /** Stored consumers' changed columns, by consumer id (a column's only change is to a value). */
  changes: Map<string, Partial<Omit<Person, "id">>>;
  conflicts: IdentityConflict[];
};

/** A race with a concurrent request can make a planned insert skip; it cannot happen this often. */
const MAX_PASSES = 3;

async function findConsumers(client: PoolClient, creatorId: string, people: Identity[]): Promise<Person[]> {
  const values = (f: Unique) => [...new Set(people.map((p) => p[f]).filter((v): v is string => !!v))];
  const { rows } = await client.query<Person>(
    `SELECT id, "externalId", email, phone, name, timezone FROM consumers
      WHERE "creatorId" = $1 AND ("externalId" = ANY($2) OR email = ANY($3) OR phone = ANY($4))`,
    [creatorId, values("externalId"), values("email"), values("phone")],
  );
  return rows;
}

/**
 * Applies the identity rules (README, "Consumer identity") to the batch's inputs in order, on a
 * working copy of the stored consumers, so later items see what earlier ones decided (several
 * items may name one new person).
 */
function plan(stored: Person[], people: Identity[]): Plan {
  const rows = stored.map((row) => ({ ...row }));
  // Who holds each unique value. A value a consumer gives up in this batch stays its own until the
  // batch is written: the unique indexes are checked row by row, so handing it to another consumer
  // in the same statements could collide with the row that still has it.
  const holders: Record<Unique, Map<string, Person>> = { externalId: new Map(), email: new Map(), phone: new Map() };
  for (const row of rows) for (const f of UNIQUE) if (row[f]) holders[f].set(row[f], row);
  const fresh: Person[] = [];
  const conflicts: IdentityConflict[] = [];

  const conflict = (row: Person, field: keyof Omit<Person, "id">, offered: string, heldBy: Person | null) =>
    conflicts.push({
      consumerId: row.id,
      field,
      keptValue: row[field],
      offeredValue: offered,
      heldById: heldBy?.id ?? null,
    });

  /** Gives `row` an offered unique value unless another consumer holds it; `replace` a differing one. */
  const claim = (row: Person, f: Unique, offered: string | null | undefined, replace: boolean) => {
    if (!offered || row[f] === offered) return;
    const heldBy = holders[f].get(offered);
    if (heldBy && heldBy !== row) return conflict(row, f, offered, heldBy);
    if (row[f] && !replace) return conflict(row, f, offered, null);
    row[f] = offered;
    holders[f].set(offered, row);
  };

  /** Sets a name or timezone; one the consumer has is changed only when `overwrite`. */
  const describe = (row: Person, f: "name" | "timezone", offered: string | null | undefined, overwrite: boolean) => {
    if (!offered || row[f] === offered) return;
    if (row[f] && !overwrite) return conflict(row, f, offered, null);
    row[f] = offered;
  };

  const ids = people.map((who) => {
    const externalId = who.externalId ?? null;

    // The creator's own id vouches for the person: details follow what the event says.
    const named = externalId ? holders.externalId.get(externalId) : undefined;
    if (named) {
      describe(named, "name", who.name, true);
      describe(named, "timezone", who.timezone, true);
      claim(named, "email", who.email, true);
      claim(named, "phone", who.phone, true);
      return named.id;
    }

    // A contact detail links only a consumer no other external id contradicts (one holding this
    // event's external id was found above); email before phone. Such a link is weaker than an
    // external id, so what the consumer already has is kept.
    const eligible = (row: Person | undefined) => (row && (!externalId || !row.externalId) ? row : undefined);
    const linked =
      eligible(who.email ? holders.email.get(who.email) : undefined) ??
      eligible(who.phone ? holders.phone.get(who.phone) : undefined);
    if (linked) {
      claim(linked, "externalId", externalId, false);
      describe(linked, "name", who.name, false);
      describe(linked, "timezone", who.timezone, false);
      claim(linked, "email", who.email, false);
      claim(linked, "phone", who.phone, false);
      return linked.id;
    }

    // Someone new, holding only what no other consumer holds. With no external id an email or
    // phone would have linked, so the new consumer always gets at least one identifying value.
    const created: Person = {
      id: randomUUID(),
      externalId: null,
      email: null,
      phone: null,
      name: who.name ?? null,
      timezone: who.timezone ?? null,
    };
    fresh.push(created);
    claim(created, "externalId", externalId, false);
    claim(created, "email", who.email, false);
    claim(created, "phone", who.phone, false);
    return created.id;
  });

  const changes = new Map<string, Partial<Omit<Person, "id">>>();
  stored.forEach((before, i) => {
    const changed = COLUMNS.filter((f) => rows[i][f] !== before[f]);
    if (changed.length > 0) changes.set(before.id, Object.fromEntries(changed.map((f) => [f, rows[i][f]])));
  });
  return { ids, fresh, changes, conflicts };
}

/** Inserts new consumers, skipping any a concurrent request stored first; answers how many were inserted. */
async function insertConsumers(client: PoolClient, creatorId: string, fresh: Person[]): Promise<number> {
  const { rowCount } = await client.query(
    `INSERT INTO consumers (id, "creatorId", "externalId", email, phone, name, timezone)
     SELECT id, $1::uuid, external_id, email, phone, name, timezone
       FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
         AS n(id, external_id, email, phone, name, timezone)
     ON CONFLICT DO NOTHING`,
    [creatorId, ...(["id", ...COLUMNS] as const).map((f) => fresh.map((p) => p[f]))],
  );
  return rowCount ?? 0;
}

/** Writes only the changed columns, so a concurrent change to another column is not undone. */
async function updateConsumers(client: PoolClient, changes: Plan["changes"]): Promise<void> {
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
    [entries.map(([id]) => id), ...COLUMNS.map((f) => entries.map(([, m]) => m[f] ?? null))],
  );
}

/**
 * Finds or creates the consumer behind each reference (one id per input, in order) by the
 * identity rules of the README's "Consumer identity": the external id decides who the person is;
 * an email or phone links only a consumer no other external id contradicts; a detail that would
 * move from one consumer to another, or overwrite what a contact-detail match already knows, is
 * kept where it is and recorded in `consumer_identity_conflicts`. Set-based: a select, an insert
 * of new consumers, an update and the conflicts' upsert per batch, in the caller's transaction.
 * Concurrent requests for a new consumer create one row: the insert skips any unique conflict and
 * the batch is planned again with the winner's row.
 */
export async function resolveConsumers(client: PoolClient, creatorId: string, people: Identity[]): Promise<string[]> {
  for (let pass = 1; ; pass++) {
    const decided = plan(await findConsumers(client, creatorId, people), people);
    if (
      decided.fresh.length === 0 ||
      (await insertConsumers(client, creatorId, decided.fresh)) === decided.fresh.length
    ) {
      await updateConsumers(client, decided.changes);
      await recordIdentityConflicts(client, creatorId, decided.conflicts);
      return decided.ids;
    }
    if (pass === MAX_PASSES) throw new Error("consumers could not be resolved: concurrent requests kept creating them");
  }
}
