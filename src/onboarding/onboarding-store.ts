import { pool } from "../db/client.js";
import type { Sql } from "../db/transaction.js";
import type { Onboarding } from "../generated/prisma/client.js";
import type { OnboardingStepStatus } from "../generated/prisma/enums.js";
import type { RawData } from "./raw-data.js";

// The onboardings and onboarding_logs tables: every statement that writes them, and the reads the
// onboarding flow makes of them. GraphQL reads them through Prisma (schema.ts, subscriptions.ts).

/** A JSON-serialisable object, stored as jsonb. */
type JsonObject = Record<string, unknown>;

/** Inserts a QUEUED run of the creator's onboarding from `rawData`. */
export async function insertOnboarding(tx: Sql, creatorId: string, rawData: RawData): Promise<Onboarding> {
  const { rows } = await tx.query<Onboarding>(
    `INSERT INTO onboardings ("creatorId", status, "rawData") VALUES ($1, 'QUEUED', $2::jsonb) RETURNING *`,
    [creatorId, JSON.stringify(rawData)],
  );
  return rows[0];
}

/** The run with this id, or null. */
export async function findOnboarding(id: string): Promise<Onboarding | null> {
  const { rows } = await pool.query<Onboarding>(`SELECT * FROM onboardings WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** The raw data of the creator's latest run; null when it was never onboarded. */
export async function findLastRawData(creatorId: string): Promise<Pick<Onboarding, "rawData"> | null> {
  const { rows } = await pool.query<Pick<Onboarding, "rawData">>(
    `SELECT "rawData" FROM onboardings WHERE "creatorId" = $1 ORDER BY "createdAt" DESC LIMIT 1`,
    [creatorId],
  );
  return rows[0] ?? null;
}

/** Ids of up to `limit` runs queued before `since` and still QUEUED, or started before it and still RUNNING. */
export async function findStaleOnboardingIds(since: Date, limit: number): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `SELECT id FROM onboardings
      WHERE (status = 'QUEUED' AND "createdAt" < $1) OR (status = 'RUNNING' AND "startedAt" < $1)
      LIMIT $2`,
    [since, limit],
  );
  return rows.map(({ id }) => id);
}

/** The run is RUNNING from now; a previous attempt's end and error are cleared. */
export async function markOnboardingRunning(id: string): Promise<void> {
  await pool.query(
    `UPDATE onboardings SET status = 'RUNNING', "startedAt" = now(), "finishedAt" = NULL, error = NULL,
            "reviewReasons" = '{}' WHERE id = $1`,
    [id],
  );
}

/** The run ended now, with `error` (the step and reason) when it FAILED. */
export async function markOnboardingFinished(
  id: string,
  status: "SUCCEEDED" | "FAILED",
  error: string | null,
): Promise<void> {
  await pool.query(
    `UPDATE onboardings SET status = $2::"OnboardingStatus", error = $3, "finishedAt" = now() WHERE id = $1`,
    [id, status, error],
  );
}

/**
 * Ends the run held for review, in the transaction that stored its profile (not activated), so a
 * replayed job never deploys from it: status NEEDS_REVIEW, with the reasons a person reads.
 */
export async function holdOnboardingForReview(tx: Sql, id: string, reasons: string[]): Promise<void> {
  await tx.query(
    `UPDATE onboardings SET status = 'NEEDS_REVIEW', "reviewReasons" = $2, error = NULL, "finishedAt" = now() WHERE id = $1`,
    [id, reasons],
  );
}

/** Records the profile version the run stored. */
export async function setOnboardingProfile(tx: Sql, id: string, profileId: string): Promise<void> {
  await tx.query(`UPDATE onboardings SET "profileId" = $2 WHERE id = $1`, [id, profileId]);
}

/** Records the agent the run deployed. */
export async function setOnboardingAgent(tx: Sql, id: string, agentId: string): Promise<void> {
  await tx.query(`UPDATE onboardings SET "agentId" = $2 WHERE id = $1`, [id, agentId]);
}

/** One row of a run's step log; rows are never changed. */
export type OnboardingLogEntry = {
  onboardingId: string;
  step: string;
  status: OnboardingStepStatus;
  message?: string;
  /** Model usage, repairs, issues, ids of what was made. */
  details?: JsonObject;
  /** On outcome rows: how long the step took, in milliseconds. */
  durationMs?: number;
  /** Set by the caller: rows of a run sort by it. */
  createdAt: Date;
};

/** Appends a row to the run's step log; answers its id. */
export async function insertOnboardingLog(entry: OnboardingLogEntry): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO onboarding_logs ("onboardingId", step, status, message, details, "durationMs", "createdAt")
     VALUES ($1, $2, $3::"OnboardingStepStatus", $4, $5::jsonb, $6, $7) RETURNING id`,
    [
      entry.onboardingId,
      entry.step,
      entry.status,
      entry.message ?? null,
      entry.details === undefined ? null : JSON.stringify(entry.details),
      entry.durationMs ?? null,
      entry.createdAt,
    ],
  );
  return rows[0].id;
}
