import type { Sql } from "../db/transaction.js";
import type { CreatorProfile } from "../generated/prisma/client.js";
import type { ProfileSource } from "../generated/prisma/enums.js";
import type { ProfileContent } from "./profile-content.js";

// The creator_profiles table: every statement that writes it, and the reads a write transaction
// makes of it. Rows are never changed but for isActive: each change of content is a new version.
// GraphQL reads it through Prisma (schema.ts).

/** How a version was made: recorded on the row. */
export type ProfileProvenance = {
  source: ProfileSource;
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  latencyMs: number | null;
  costEstimateUsd: number | null;
};

/** The profile with this id, or null. */
export async function findProfile(sql: Sql, id: string): Promise<CreatorProfile | null> {
  const { rows } = await sql.query<CreatorProfile>(`SELECT * FROM creator_profiles WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** The creator's active version, else its latest; null when it has none. */
export async function findActiveOrLatestProfile(tx: Sql, creatorId: string): Promise<CreatorProfile | null> {
  const { rows } = await tx.query<CreatorProfile>(
    `SELECT * FROM creator_profiles WHERE "creatorId" = $1 ORDER BY "isActive" DESC, version DESC LIMIT 1`,
    [creatorId],
  );
  return rows[0] ?? null;
}

/** The creator's active version, or null. */
export async function findActiveProfile(tx: Sql, creatorId: string): Promise<CreatorProfile | null> {
  const { rows } = await tx.query<CreatorProfile>(
    `SELECT * FROM creator_profiles WHERE "creatorId" = $1 AND "isActive"`,
    [creatorId],
  );
  return rows[0] ?? null;
}

/**
 * Inserts the creator's next version (its highest plus one, 1 for the first), inactive. The
 * caller serialises the creator's profile changes (lockCreator), or two would take one number.
 */
export async function insertNextProfileVersion(
  tx: Sql,
  creatorId: string,
  content: ProfileContent,
  provenance: ProfileProvenance,
): Promise<CreatorProfile> {
  const { rows } = await tx.query<CreatorProfile>(
    `INSERT INTO creator_profiles
       ("creatorId", version, "isActive", source, summary, "salesPitch", "targetAudience", "valuePropositions",
        services, "agentInstructions", "objectionHandling", model, "promptTokens", "completionTokens", "latencyMs",
        "costEstimateUsd")
     SELECT $1::uuid, COALESCE(max(version), 0) + 1, false, $2::"ProfileSource", $3, $4, $5, $6::text[],
            $7::jsonb, $8, $9::jsonb, $10, $11::integer, $12::integer, $13::integer, $14::double precision
       FROM creator_profiles WHERE "creatorId" = $1::uuid
     RETURNING *`,
    [
      creatorId,
      provenance.source,
      content.summary,
      content.salesPitch,
      content.targetAudience,
      content.valuePropositions,
      JSON.stringify(content.services),
      content.agentInstructions,
      JSON.stringify(content.objectionHandling),
      provenance.model,
      provenance.promptTokens,
      provenance.completionTokens,
      provenance.latencyMs,
      provenance.costEstimateUsd,
    ],
  );
  return rows[0];
}

/** Makes the profile its creator's one active version; answers it as it now is. */
export async function activateProfile(
  tx: Sql,
  profile: Pick<CreatorProfile, "id" | "creatorId">,
): Promise<CreatorProfile> {
  // The old row first: the partial unique index allows one active row at every moment.
  await tx.query(
    `UPDATE creator_profiles SET "isActive" = false WHERE "creatorId" = $1::uuid AND "isActive" AND id <> $2::uuid`,
    [profile.creatorId, profile.id],
  );
  const { rows } = await tx.query<CreatorProfile>(
    `UPDATE creator_profiles SET "isActive" = true WHERE id = $1 RETURNING *`,
    [profile.id],
  );
  return rows[0];
}
