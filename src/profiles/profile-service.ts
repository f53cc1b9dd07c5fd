import { syncAgentsToProfile } from "../agents/agent-service.js";
import { recordAudit } from "../audit/audit-log.js";
import { lockCreator } from "../creators/creator-store.js";
import { inTransaction, type Sql } from "../db/transaction.js";
import { NotFoundError, ValidationError } from "../errors.js";
import type { CreatorProfile } from "../generated/prisma/client.js";
import type { Viewer } from "../viewer.js";
import { type ProfileContent, profileContentSchema } from "./profile-content.js";
import {
  activateProfile,
  findActiveOrLatestProfile,
  findActiveProfile,
  findProfile,
  insertNextProfileVersion,
  type ProfileProvenance,
} from "./profile-store.js";

// Profiles are versioned: every change is a new row, one row per creator is active (a partial
// unique index holds it), and each change repoints the creator's agents in its own transaction,
// so no agent ever works from a profile that is no longer the active one.

const MANUAL: ProfileProvenance = {
  source: "MANUAL",
  model: null,
  promptTokens: null,
  completionTokens: null,
  latencyMs: null,
  costEstimateUsd: null,
};

/** Serialises profile changes of one creator (version numbers, the switch of the active row). Raises NotFoundError. */
async function lockedCreator(tx: Sql, creatorId: string): Promise<{ id: string; name: string }> {
  const creator = await lockCreator(tx, creatorId);
  if (!creator) throw new NotFoundError("Creator", creatorId);
  return creator;
}

/** Makes `profile` the active version and points the agents at it. The caller holds the creator lock. */
async function activate(tx: Sql, creator: { id: string; name: string }, profile: CreatorProfile) {
  const active = await activateProfile(tx, profile);
  await syncAgentsToProfile(tx, active, creator.name);
  return active;
}

async function addActiveVersion(
  tx: Sql,
  creator: { id: string; name: string },
  content: ProfileContent,
  provenance: ProfileProvenance,
) {
  return activate(tx, creator, await insertNextProfileVersion(tx, creator.id, content, provenance));
}

/**
 * Stores a new version in the caller's transaction (onboarding stores its generated profile):
 * active, unless `held` (a profile held for review is kept for a person to activate, and the
 * agents stay on the version they had).
 */
export async function storeProfileVersion(
  tx: Sql,
  creatorId: string,
  content: ProfileContent,
  provenance: ProfileProvenance,
  { held = false }: { held?: boolean } = {},
): Promise<CreatorProfile> {
  const creator = await lockedCreator(tx, creatorId);
  return held
    ? insertNextProfileVersion(tx, creator.id, content, provenance)
    : addActiveVersion(tx, creator, content, provenance);
}

function contentOf(profile: CreatorProfile): ProfileContent {
  return profileContentSchema.parse(profile);
}

const profileChangesSchema = profileContentSchema.partial();

/** Nullable GraphQL inputs: null means "not sent" for a field, and "the default" inside a service. */
export type ProfileChanges = {
  [K in keyof ProfileContent]?: (K extends "services" ? Partial<Record<string, unknown>>[] : ProfileContent[K]) | null;
};

function withoutNulls<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined)) as Partial<T>;
}

/** A new MANUAL version: the active profile (else the latest) with the changes applied; it becomes active. */
export async function editProfile(creatorId: string, changes: ProfileChanges, actor: Viewer | null) {
  const sent = withoutNulls(changes);
  const parsed = profileChangesSchema.safeParse({
    ...sent,
    ...(sent.services ? { services: sent.services.map(withoutNulls) } : {}),
  });
  if (!parsed.success) throw ValidationError.fromZod(parsed.error, "changes");
  const fields = Object.keys(sent);
  if (fields.length === 0) throw new ValidationError("Send at least one field to change");

  return inTransaction(async (tx) => {
    const creator = await lockedCreator(tx, creatorId);
    const base = await findActiveOrLatestProfile(tx, creatorId);
    const merged = profileContentSchema.safeParse({ ...(base ? contentOf(base) : {}), ...parsed.data });
    if (!merged.success) throw ValidationError.fromZod(merged.error, base ? "changes" : "changes (no profile yet)");
    const profile = await addActiveVersion(tx, creator, merged.data, MANUAL);
    await recordAudit(tx, actor, {
      operation: "profile.edit",
      creatorId,
      targetType: "CreatorProfile",
      targetId: profile.id,
      details: { version: profile.version, basedOnVersion: base?.version ?? null, fields },
    });
    return profile;
  });
}

/** Makes an older (or newer) version the active one again; the agents follow in the same transaction. */
export async function activateProfileVersion(profileId: string, actor: Viewer | null) {
  return inTransaction(async (tx) => {
    const target = await findProfile(tx, profileId);
    if (!target) throw new NotFoundError("CreatorProfile", profileId);
    const creator = await lockedCreator(tx, target.creatorId);
    const previous = await findActiveProfile(tx, creator.id);
    const profile = await activate(tx, creator, target);
    await recordAudit(tx, actor, {
      operation: "profile.activate",
      creatorId: creator.id,
      targetType: "CreatorProfile",
      targetId: profile.id,
      details: { version: profile.version, previousVersion: previous?.version ?? null },
    });
    return profile;
  });
}
