import { randomBytes } from "node:crypto";
import { encodeGlobalID } from "@pothos/plugin-relay";
import { createApiKey } from "../src/auth/api-keys.js";
import { createCreator } from "../src/creators/creator-service.js";
import { inTransaction } from "../src/db/transaction.js";
import type { ProfileContent } from "../src/profiles/profile-content.js";
import { activateProfile, insertNextProfileVersion } from "../src/profiles/profile-store.js";
import { registerWhatsAppTemplate, setWhatsAppTemplateStatus } from "../src/whatsapp/template-service.js";

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

/**
 * WhatsApp templates for the agent's welcome, follow-ups and thank-you, in the agent's own words:
 * what a creator registers with Meta so the agent may start a conversation on WhatsApp (outside the
 * customer-service window). The agent tries them in this order and takes the first whose variables
 * all have a value, so the ones about a service come first, and each kind ends with one that needs
 * nothing but the creator's name.
 */
export const agentTemplates: Parameters<typeof registerWhatsAppTemplate>[1][] = (
  [
    [
      "welcome_service_offer",
      "WELCOME",
      "Hi {{1}}! Thanks for looking at {{2}}. It's {{3}}. More here: {{4}} Reply here any time if you have questions.",
      ["CONSUMER_NAME", "SERVICE_NAME", "SERVICE_PRICE", "SERVICE_URL"],
    ],
    [
      "welcome_service",
      "WELCOME",
      "Hi {{1}}! Thanks for looking at {{2}}. Reply here any time if you have questions.",
      ["CONSUMER_NAME", "SERVICE_NAME"],
    ],
    [
      "welcome_interest",
      "WELCOME",
      "Hi {{1}}! Thanks for your interest in {{2}}'s work. Reply here any time if you have questions.",
      ["CONSUMER_NAME", "CREATOR_NAME"],
    ],
    [
      "welcome_interest_unnamed",
      "WELCOME",
      "Hi! Thanks for your interest in {{1}}'s work. Reply here any time if you have questions.",
      ["CREATOR_NAME"],
    ],
    [
      "follow_up_pitch_price",
      "FOLLOW_UP",
      "Hi {{1}}! I noticed you've been looking at {{2}}. {{3}}. It's {{4}}. Happy to answer any questions.",
      ["CONSUMER_NAME", "SERVICE_NAME", "SERVICE_PITCH", "SERVICE_PRICE"],
    ],
    [
      "follow_up_pitch",
      "FOLLOW_UP",
      "Hi {{1}}! I noticed you've been looking at {{2}}. {{3}}. Happy to answer any questions.",
      ["CONSUMER_NAME", "SERVICE_NAME", "SERVICE_PITCH"],
    ],
    [
      "follow_up_service",
      "FOLLOW_UP",
      "Hi {{1}}! I noticed you've been looking at {{2}}. Happy to answer any questions.",
      ["CONSUMER_NAME", "SERVICE_NAME"],
    ],
    [
      "follow_up_service_unnamed",
      "FOLLOW_UP",
      "Hi! I noticed you've been looking at {{1}}. Happy to answer any questions.",
      ["SERVICE_NAME"],
    ],
    [
      "thank_you_service",
      "THANK_YOU",
      "Welcome aboard, {{1}}! Thank you for joining {{2}}. We'll be in touch with everything you need to get started.",
      ["CONSUMER_NAME", "SERVICE_NAME"],
    ],
    [
      "thank_you_enrolment",
      "THANK_YOU",
      "Welcome aboard, {{1}}! Thank you for joining {{2}}. We'll be in touch with everything you need to get started.",
      ["CONSUMER_NAME", "CREATOR_NAME"],
    ],
    [
      "thank_you_enrolment_unnamed",
      "THANK_YOU",
      "Welcome aboard! Thank you for joining {{1}}. We'll be in touch with everything you need to get started.",
      ["CREATOR_NAME"],
    ],
  ] as const
).map(([name, purpose, body, variables]) => ({
  name,
  language: "en_US",
  category: purpose === "THANK_YOU" ? "UTILITY" : "MARKETING",
  purpose,
  body,
  variables: [...variables],
}));

/**
 * Registers the agent's templates for a creator and approves them, as Meta would: setup, not the
 * subject. Each name carries the creator's own prefix: creators on the platform's shared number
 * share Meta's template names.
 */
export async function approveAgentTemplates(creatorId: string): Promise<void> {
  const prefix = `c${creatorId.replaceAll("-", "").slice(0, 12)}`;
  for (const input of agentTemplates) {
    const template = await registerWhatsAppTemplate(creatorId, { ...input, name: `${prefix}_${input.name}` }, null);
    await setWhatsAppTemplateStatus(template.id, "APPROVED", null, null);
  }
}
