import { randomUUID } from "node:crypto";
import type { Sql } from "../db/transaction.js";
import type { ConsumerInput } from "./consumer-input.js";
import {
  IDENTITY_COLUMNS as COLUMNS,
  type ConsumerChanges,
  findConsumersNamed,
  insertConsumers,
  type Person,
  UNIQUE,
  type Unique,
  updateConsumers,
} from "./consumer-store.js";
import { type IdentityConflict, recordIdentityConflicts } from "./identity-conflict-store.js";

type Identity = Pick<ConsumerInput, "externalId" | "email" | "phone" | "name" | "timezone">;

/** What one pass over a batch decided; nothing is written until it is applied. */
type Plan = {
  /** The consumer of each input, in input order. */
  ids: string[];
  /** New consumers, with their ids chosen here so the plan can name them before they exist. */
  fresh: Person[];
  /** Stored consumers' changed columns, by consumer id (a column's only change is to a value). */
  changes: ConsumerChanges;
  conflicts: IdentityConflict[];
};

/** A race with a concurrent request can make a planned insert skip; it cannot happen this often. */
const MAX_PASSES = 3;

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
export async function resolveConsumers(client: Sql, creatorId: string, people: Identity[]): Promise<string[]> {
  for (let pass = 1; ; pass++) {
    const decided = plan(await findConsumersNamed(client, creatorId, people), people);
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
