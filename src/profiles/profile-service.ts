import { syncAgentsToProfile } from "../agents/agent-service.js";
import { recordAudit } from "../audit/audit-log.js";
import type { Viewer } from "../auth/viewer.js";
import { db, type Tx } from "../db/client.js";
import { ConflictError, NotFoundError, ValidationError } from "../errors.js";
import type { CreatorProfile, Prisma } from "../generated/prisma/client.js";
import type { ProfileSource } from "../generated/prisma/enums.js";
import { startOnboardingRun } from "../onboarding/onboarding-service.js";
import { rawDataSchema } from "../onboarding/raw-data.js";
import { type ProfileContent, profileContentSchema } from "./profile-content.js";

// Profiles are versioned: every change is a new row, one row per creator is active (a partial
// unique index holds it), and each change repoints the creator's agents in its own transaction,
// so no agent ever works from a profile that is no longer the active one.

/** How a version was made: recorded on the row. */
export type ProfileProvenance = {
  source: ProfileSource;
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  latencyMs: number | null;
  costEstimateUsd: number | null;
};

const MANUAL: ProfileProvenance = {
  source: "MANUAL",
  model: null,
  promptTokens: null,
  completionTokens: null,
  latencyMs: null,
  costEstimateUsd: null,
};

/**
 * Serialises profile changes of one creator (version numbers, the switch of the active row).
 * FOR NO KEY UPDATE, not FOR UPDATE: inserts of rows that reference the creator (events,
 * consumers) take a key-share lock, which this one does not block.
 */
async function lockCreator(tx: Tx, creatorId: string): Promise<{ id: string; name: string }> {
  const [creator] = await tx.$queryRaw<{ id: string; name: string }[]>`
    SELECT id, name FROM creators WHERE id = ${creatorId}::uuid FOR NO KEY UPDATE`;
  if (!creator) throw new NotFoundError("Creator", creatorId);
  return creator;
}

/** Makes `profile` the active version and points the agents at it. The caller holds the creator lock. */
async function activate(tx: Tx, creator: { id: string; name: string }, profile: CreatorProfile) {
  // The old row first: the partial unique index allows one active row at every moment.
  await tx.creatorProfile.updateMany({
    where: { creatorId: creator.id, isActive: true, id: { not: profile.id } },
    data: { isActive: false },
  });
  const active = await tx.creatorProfile.update({ where: { id: profile.id }, data: { isActive: true } });
  await syncAgentsToProfile(tx, active, creator.name);
  return active;
}

async function addActiveVersion(
  tx: Tx,
  creator: { id: string; name: string },
  content: ProfileContent,
  provenance: ProfileProvenance,
) {
  const latest = await tx.creatorProfile.findFirst({
    where: { creatorId: creator.id },
    orderBy: { version: "desc" },
    select: { version: true },
  });
  const profile = await tx.creatorProfile.create({
    data: {
      ...content,
      ...provenance,
      services: content.services as Prisma.InputJsonValue,
      objectionHandling: content.objectionHandling as Prisma.InputJsonValue,
      creatorId: creator.id,
      version: (latest?.version ?? 0) + 1,
      isActive: false,
    },
  });
  return activate(tx, creator, profile);
}

/** Stores a new active version in the caller's transaction (onboarding stores its generated profile). */
export async function storeProfileVersion(
  tx: Tx,
  creatorId: string,
  content: ProfileContent,
  provenance: ProfileProvenance,
): Promise<CreatorProfile> {
  return addActiveVersion(tx, await lockCreator(tx, creatorId), content, provenance);
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

  return db.$transaction(async (tx) => {
    const creator = await lockCreator(tx, creatorId);
    const base = await tx.creatorProfile.findFirst({
      where: { creatorId },
      orderBy: [{ isActive: "desc" }, { version: "desc" }],
    });
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
  return db.$transaction(async (tx) => {
    const target = await tx.creatorProfile.findUnique({ where: { id: profileId } });
    if (!target) throw new NotFoundError("CreatorProfile", profileId);
    const creator = await lockCreator(tx, target.creatorId);
    const previous = await tx.creatorProfile.findFirst({
      where: { creatorId: creator.id, isActive: true },
      select: { version: true },
    });
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

/** A new onboarding run from the creator's last raw data: a fresh profile, generated like the first. */
export async function regenerateProfile(creatorId: string, actor: Viewer | null) {
  const last = await db.onboarding.findFirst({
    where: { creatorId },
    orderBy: { createdAt: "desc" },
    select: { rawData: true },
  });
  if (!last) {
    const exists = await db.creator.count({ where: { id: creatorId } });
    if (!exists) throw new NotFoundError("Creator", creatorId);
    throw new ConflictError("This creator was never onboarded: there is no raw data to generate a profile from");
  }
  const raw = rawDataSchema.safeParse(last.rawData);
  if (!raw.success) throw ValidationError.fromZod(raw.error, "rawData");
  return startOnboardingRun(creatorId, raw.data, actor, "profile.regenerate");
}
