import { randomBytes } from "node:crypto";
import { encodeGlobalID } from "@pothos/plugin-relay";
import { createApiKey } from "../src/auth/api-keys.js";
import { createCreator } from "../src/creators/creator-service.js";
import { inTransaction } from "../src/db/transaction.js";
import type { ProfileContent } from "../src/profiles/profile-content.js";
import { activateProfile, insertNextProfileVersion } from "../src/profiles/profile-store.js";

// Rows the tests and the bench make directly through the services, where making them is setup
// and not the subject: creators with their keys, admin keys, active profiles.

export function uniqueHandle(prefix = "creator"): string {
  return `${prefix}-${randomBytes(5).toString("hex")}`;
}

/** A creator with its creator and ingest keys, and its global id as the API encodes it. */
export async function makeCreator(overrides: Partial<Parameters<typeof createCreator>[0]> = {}) {
  const creator = await createCreator({ name: "Test Creator", handle: uniqueHandle(), ...overrides }, null);
  const { secret: creatorKey } = await createApiKey({ kind: "CREATOR", creatorId: creator.id, name: "test" }, null);
  const { secret: ingestKey } = await createApiKey(
    { kind: "INGEST", creatorId: creator.id, name: "test ingest" },
    null,
  );
  return { creator, gid: encodeGlobalID("Creator", creator.id), creatorKey, ingestKey };
}

export type MadeCreator = Awaited<ReturnType<typeof makeCreator>>;

export async function makeAdminKey(): Promise<string> {
  return (await createApiKey({ kind: "ADMIN", name: "test admin" }, null)).secret;
}

export const coachingProfile: ProfileContent = {
  summary: "Maya Rao coaches first-time managers through their first year.",
  salesPitch:
    "Your first team deserves a confident leader. In twelve weeks you will run one-on-ones that matter. You will stop firefighting.",
  targetAudience: "Engineers promoted to their first management role.",
  valuePropositions: ["Weekly live coaching with Maya", "Templates for every hard conversation"],
  services: [
    {
      name: "Leadership Sprint",
      description: "A 12-week group program for new managers.",
      price: 1200,
      currency: "USD",
      url: "https://maya.example/sprint",
      durationMinutes: null,
      pitch: "The Sprint gets you from surviving to leading in 12 weeks, with a cohort of peers.",
    },
    {
      name: "1:1 Coaching",
      description: "Private sessions.",
      price: 300,
      currency: "USD",
      url: null,
      durationMinutes: 60,
      pitch: "",
    },
  ],
  agentInstructions: "Warm, concise, never pushy.",
  objectionHandling: [
    {
      objection: "It's too expensive",
      response: "the price includes twelve live sessions and lifetime templates, and most clients expense it.",
    },
    {
      objection: "I don't have time",
      response: "each week takes 90 minutes, and the templates save you more than that.",
    },
  ],
};

/** An active profile made directly in the database: the onboarding flow is not the subject here. */
export async function makeActiveProfile(creatorId: string, content: ProfileContent = coachingProfile) {
  const provenance = {
    source: "MANUAL" as const,
    model: null,
    promptTokens: null,
    completionTokens: null,
    latencyMs: null,
    costEstimateUsd: null,
  };
  return inTransaction(async (tx) =>
    activateProfile(tx, await insertNextProfileVersion(tx, creatorId, content, provenance)),
  );
}
