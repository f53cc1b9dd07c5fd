import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ZodError } from "zod";
import { logger } from "../src/logger.js";
import { queueJobDuration, queueJobsProcessed } from "../src/observability/metrics.js";
import { addAgentRunJobs, addOnboardingJob, QUEUES, queue } from "../src/queues.js";
import { startWorker } from "../worker/worker.js";
import { eventually } from "./support/processes.js";

// The queue registry against the real Redis: payloads are checked when a job is added and again
// when the worker takes it, and every queue's processor gets the same failure log and metrics.

let worker: Awaited<ReturnType<typeof startWorker>>;
const warn = vi.spyOn(logger, "warn");

beforeAll(async () => {
  worker = await startWorker({ metricsPort: 0, scheduler: false });
});
afterAll(async () => {
  await worker.close();
  warn.mockRestore();
});

/** How many jobs of the queue ended with this outcome, per closer_queue_jobs_processed_total. */
async function processed(queueName: string, outcome: string): Promise<number> {
  const { values } = await queueJobsProcessed.get();
  return values.find((v) => v.labels.queue === queueName && v.labels.outcome === outcome)?.value ?? 0;
}

/** How many runs of the queue closer_queue_job_seconds timed. */
async function timed(queueName: string): Promise<number> {
  const { values } = await queueJobDuration.get();
  return (
    values.find((v) => v.metricName === "closer_queue_job_seconds_count" && v.labels.queue === queueName)?.value ?? 0
  );
}

/** The "job failed" lines logged for this job. */
function failureLines(jobId: string) {
  return warn.mock.calls.filter(
    ([fields, message]) => message === "job failed" && (fields as { jobId?: string } | undefined)?.jobId === jobId,
  );
}

describe("a job whose payload breaks its queue's schema", () => {
  it.each([
    { queueName: QUEUES.agentRuns, jobName: "agent-run", data: { eventId: "not-a-uuid" }, field: "eventId" },
    { queueName: QUEUES.onboarding, jobName: "onboard", data: { onboarding: randomUUID() }, field: "onboardingId" },
  ])(
    "fails at once on $queueName with a clear reason, logged once, never retried",
    async ({ queueName, jobName, data, field }) => {
      const invalidBefore = await processed(queueName, "invalid");
      const jobId = `malformed-${randomUUID()}`;
      // Added past the registry (an older producer, a hand-made job), with retries that must not happen.
      await queue(queueName).add(jobName, data, { jobId, attempts: 5, backoff: { type: "fixed", delay: 50 } });

      await eventually(async () => ((await queue(queueName).getJobState(jobId)) === "failed" ? true : undefined));
      // Read once failed: the move to failed writes the state and the job's fields in one script.
      const failed = await queue(queueName).getJob(jobId);
      expect(failed?.attemptsMade).toBe(1);
      expect(failed?.failedReason).toContain(`Invalid ${queueName} job payload`);
      expect(failed?.failedReason).toContain(field);
      await eventually(async () => (failureLines(jobId).length > 0 ? true : undefined));
      // Longer than the backoff: a retry would have run and failed again by now.
      await new Promise((r) => setTimeout(r, 500));
      expect(failureLines(jobId)).toHaveLength(1);
      expect(await queue(queueName).getJobState(jobId)).toBe("failed");
      expect(await processed(queueName, "invalid")).toBe(invalidBefore + 1);
      await queue(queueName).remove(jobId);
    },
  );
});

describe("enqueueing through the registry", () => {
  it("refuses a payload that breaks the schema and adds nothing", async () => {
    const before = await queue(QUEUES.agentRuns).getJobCounts();
    await expect(addAgentRunJobs([{ eventId: "event-1", creatorId: randomUUID() }])).rejects.toThrow(ZodError);
    await expect(addOnboardingJob("onboarding-1")).rejects.toThrow(ZodError);
    expect(await queue(QUEUES.agentRuns).getJobCounts()).toEqual(before);
  });
});

describe("every queue's processor", () => {
  it("counts and times completed runs, and logs and counts failed ones, on every queue", async () => {
    const completedBefore = await processed(QUEUES.agentRuns, "completed");
    const timedBefore = await timed(QUEUES.agentRuns);
    // An event that does not exist: the agent run has nothing to do and completes.
    await addAgentRunJobs([{ eventId: randomUUID(), creatorId: randomUUID() }]);
    await eventually(async () =>
      (await processed(QUEUES.agentRuns, "completed")) > completedBefore ? true : undefined,
    );
    expect(await timed(QUEUES.agentRuns)).toBeGreaterThan(timedBefore);

    // An onboarding that does not exist fails for good: logged like an agent run's failure.
    const failedBefore = await processed(QUEUES.onboarding, "failed");
    const onboardingId = randomUUID();
    await addOnboardingJob(onboardingId);
    const jobId = `onboarding-${onboardingId}`;
    await eventually(async () => (failureLines(jobId).length > 0 ? true : undefined));
    expect(failureLines(jobId)[0][0]).toMatchObject({ queue: QUEUES.onboarding, attempts: 1 });
    expect(await processed(QUEUES.onboarding, "failed")).toBe(failedBefore + 1);
  });
});
