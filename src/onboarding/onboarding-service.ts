import { recordAudit } from "../audit/audit-log.js";
import type { Viewer } from "../auth/viewer.js";
import { db, type Tx } from "../db/client.js";
import { ValidationError } from "../errors.js";
import { type Onboarding, Prisma } from "../generated/prisma/client.js";
import { logger } from "../logger.js";
import { enqueueWithin, jobIds, type OnboardingJob, QUEUES, queue } from "../queues.js";
import { type RawData, type RawDataInput, rawDataSchema } from "./raw-data.js";

/**
 * Starts onboarding a creator: creates the creator (status ONBOARDING), or reuses the one with
 * this handle, records the raw data and queues the run. Answers at once; the worker does the rest.
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

/**
 * Queues the run after its row is committed. When Redis refuses the job the onboarding is marked
 * FAILED with the reason rather than left QUEUED forever; regenerating the profile starts it again.
 */
function addOnboardingJob(onboardingId: string) {
  const data: OnboardingJob = { onboardingId };
  return enqueueWithin(
    queue(QUEUES.onboarding).add("onboard", data, {
      jobId: jobIds.onboarding(onboardingId),
      // The OpenAI client already retries rate limits, timeouts and server errors; a run that
      // still fails is recorded as FAILED, and another try is a new run (regenerateProfile).
      attempts: 1,
      removeOnComplete: { age: 3600, count: 1_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    }),
  );
}

async function enqueueOnboarding(onboarding: Onboarding): Promise<Onboarding> {
  try {
    await addOnboardingJob(onboarding.id);
    return onboarding;
  } catch (error) {
    logger.error({ err: error, onboardingId: onboarding.id }, "onboarding enqueue failed");
    return db.onboarding.update({
      where: { id: onboarding.id },
      data: {
        status: "FAILED",
        error: `Could not queue the onboarding: ${error instanceof Error ? error.message : String(error)}`,
        finishedAt: new Date(),
      },
    });
  }
}

/**
 * Queues again the onboardings still QUEUED after a while: their job was lost with a Redis that
 * keeps nothing on disk. A job still in the queue keeps its id, so this adds nothing for it.
 */
export async function requeueStrandedOnboardings(olderThanMs: number): Promise<number> {
  const stranded = await db.onboarding.findMany({
    where: { status: "QUEUED", createdAt: { lt: new Date(Date.now() - olderThanMs) } },
    select: { id: true },
    take: 100,
  });
  for (const { id } of stranded) await addOnboardingJob(id);
  return stranded.length;
}
