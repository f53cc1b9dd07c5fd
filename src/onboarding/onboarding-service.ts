import { recordAudit } from "../audit/audit-log.js";
import { creatorExists, findCreatorIdByHandle, insertCreator, updateCreatorFields } from "../creators/creator-store.js";
import { pool } from "../db/client.js";
import { inTransaction, type Sql } from "../db/transaction.js";
import { ConflictError, NotFoundError, ValidationError } from "../errors.js";
import type { Onboarding } from "../generated/prisma/client.js";
import { logger } from "../logger.js";
import { addOnboardingJob, jobIds, jobsMissing, QUEUES } from "../queues.js";
import type { Viewer } from "../viewer.js";
import { findLastRawData, findStaleOnboardingIds, insertOnboarding } from "./onboarding-store.js";
import { type RawData, type RawDataInput, rawDataSchema } from "./raw-data.js";

/**
 * Starts onboarding a creator: creates the creator (status ONBOARDING), or reuses the one with
 * this handle and takes the details the raw data gives (name; email, phone and time zone when
 * given), records the raw data and queues the run. Answers at once; the worker does the rest.
 */
export async function onboardCreator(input: RawDataInput, actor: Viewer | null): Promise<Onboarding> {
  const parsed = rawDataSchema.safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod(parsed.error);
  const raw = parsed.data;
  // Two first onboardings of one handle at once: the loser's insert hits the unique handle, and
  // its second attempt finds the winner's creator.
  const onboarding = await inTransaction(
    async (tx) => {
      let creatorId = await findCreatorIdByHandle(tx, raw.handle);
      if (!creatorId) {
        const creator = await insertCreator(tx, {
          name: raw.name,
          handle: raw.handle,
          email: raw.email ?? null,
          phone: raw.phone ?? null,
          timezone: raw.timezone ?? "UTC",
          status: "ONBOARDING",
        });
        creatorId = creator.id;
        await recordAudit(tx, actor, {
          operation: "creator.create",
          creatorId,
          targetType: "Creator",
          targetId: creatorId,
          details: { handle: raw.handle, via: "onboarding" },
        });
      } else {
        // Onboarding again is how a creator's raw data is brought up to date: its details too.
        const details = {
          name: raw.name,
          ...(raw.email ? { email: raw.email } : {}),
          ...(raw.phone ? { phone: raw.phone } : {}),
          ...(raw.timezone ? { timezone: raw.timezone } : {}),
        };
        await updateCreatorFields(tx, creatorId, details);
        await recordAudit(tx, actor, {
          operation: "creator.update",
          creatorId,
          targetType: "Creator",
          targetId: creatorId,
          details: { fields: Object.keys(details), via: "onboarding" },
        });
      }
      return createOnboarding(tx, creatorId, raw, actor, "onboarding.start");
    },
    { attempts: 2 },
  );
  return enqueueOnboarding(onboarding);
}

/** A new onboarding run for an existing creator, from raw data already validated. */
export async function startOnboardingRun(
  creatorId: string,
  raw: RawData,
  actor: Viewer | null,
  operation: string,
): Promise<Onboarding> {
  const onboarding = await inTransaction((tx) => createOnboarding(tx, creatorId, raw, actor, operation));
  return enqueueOnboarding(onboarding);
}

async function createOnboarding(tx: Sql, creatorId: string, raw: RawData, actor: Viewer | null, operation: string) {
  const onboarding = await insertOnboarding(tx, creatorId, raw);
  await recordAudit(tx, actor, {
    operation,
    creatorId,
    targetType: "Onboarding",
    targetId: onboarding.id,
    details: { handle: raw.handle, services: raw.services.length },
  });
  return onboarding;
}

/** When Redis refuses the job the onboarding stays QUEUED: the stranded sweep queues it once Redis is back. */
async function enqueueOnboarding(onboarding: Onboarding): Promise<Onboarding> {
  try {
    await addOnboardingJob(onboarding.id);
  } catch (error) {
    logger.warn(
      { err: error, onboardingId: onboarding.id },
      "onboarding enqueue failed; the stranded sweep will queue it",
    );
  }
  return onboarding;
}

/**
 * Queues again the onboardings left QUEUED or RUNNING for `olderThanMs` with no job in the queue:
 * their enqueue failed, their job was lost with a Redis that keeps nothing on disk, or their run
 * stopped on a PostgreSQL or Redis outage. Returns how many it queued.
 */
export async function requeueStrandedOnboardings(olderThanMs: number): Promise<number> {
  const candidates = await findStaleOnboardingIds(new Date(Date.now() - olderThanMs), 100);
  if (candidates.length === 0) return 0;
  const missing = await jobsMissing(
    QUEUES.onboarding,
    candidates.map((id) => jobIds.onboarding(id)),
  );
  const stranded = candidates.filter((_, i) => missing[i]);
  for (const id of stranded) await addOnboardingJob(id);
  if (stranded.length > 0) logger.info({ onboardings: stranded.length }, "stranded onboardings queued again");
  return stranded.length;
}

/** A new onboarding run from the creator's last raw data: a fresh profile, generated like the first. */
export async function regenerateProfile(creatorId: string, actor: Viewer | null) {
  const last = await findLastRawData(creatorId);
  if (!last) {
    if (!(await creatorExists(pool, creatorId))) throw new NotFoundError("Creator", creatorId);
    throw new ConflictError("This creator was never onboarded: there is no raw data to generate a profile from");
  }
  const raw = rawDataSchema.safeParse(last.rawData);
  if (!raw.success) throw ValidationError.fromZod(raw.error, "rawData");
  return startOnboardingRun(creatorId, raw.data, actor, "profile.regenerate");
}
