import { recordAudit } from "../audit/audit-log.js";
import type { Viewer } from "../auth/viewer.js";
import { db, type Tx } from "../db/client.js";
import { ValidationError } from "../errors.js";
import { type Onboarding, Prisma } from "../generated/prisma/client.js";
import { logger } from "../logger.js";
import { addOnboardingJob, jobIds, jobsMissing, QUEUES } from "../queues.js";
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
  const register = () =>
    db.$transaction(async (tx) => {
      let creator = await tx.creator.findUnique({ where: { handle: raw.handle }, select: { id: true } });
      if (!creator) {
        creator = await tx.creator.create({
          data: {
            name: raw.name,
            handle: raw.handle,
            email: raw.email ?? null,
            phone: raw.phone ?? null,
            timezone: raw.timezone ?? "UTC",
            status: "ONBOARDING",
          },
          select: { id: true },
        });
        await recordAudit(tx, actor, {
          operation: "creator.create",
          creatorId: creator.id,
          targetType: "Creator",
          targetId: creator.id,
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
        await tx.creator.update({ where: { id: creator.id }, data: details });
        await recordAudit(tx, actor, {
          operation: "creator.update",
          creatorId: creator.id,
          targetType: "Creator",
          targetId: creator.id,
          details: { fields: Object.keys(details), via: "onboarding" },
        });
      }
      return createOnboarding(tx, creator.id, raw, actor, "onboarding.start");
    });
  // Two first onboardings of one handle at once: the loser's insert hits the unique handle, and
  // its second try finds the winner's creator.
  const onboarding = await register().catch((error) => {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") return register();
    throw error;
  });
  return enqueueOnboarding(onboarding);
}

/** A new onboarding run for an existing creator, from raw data already validated. */
export async function startOnboardingRun(
  creatorId: string,
  raw: RawData,
  actor: Viewer | null,
  operation: string,
): Promise<Onboarding> {
  const onboarding = await db.$transaction((tx) => createOnboarding(tx, creatorId, raw, actor, operation));
  return enqueueOnboarding(onboarding);
}

async function createOnboarding(tx: Tx, creatorId: string, raw: RawData, actor: Viewer | null, operation: string) {
  const onboarding = await tx.onboarding.create({
    data: { creatorId, status: "QUEUED", rawData: raw as Prisma.InputJsonValue },
  });
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
  const since = new Date(Date.now() - olderThanMs);
  const candidates = await db.onboarding.findMany({
    where: {
      OR: [
        { status: "QUEUED", createdAt: { lt: since } },
        { status: "RUNNING", startedAt: { lt: since } },
      ],
    },
    select: { id: true },
    take: 100,
  });
  if (candidates.length === 0) return 0;
  const missing = await jobsMissing(
    QUEUES.onboarding,
    candidates.map(({ id }) => jobIds.onboarding(id)),
  );
  const stranded = candidates.filter((_, i) => missing[i]);
  for (const { id } of stranded) await addOnboardingJob(id);
  if (stranded.length > 0) logger.info({ onboardings: stranded.length }, "stranded onboardings queued again");
  return stranded.length;
}
