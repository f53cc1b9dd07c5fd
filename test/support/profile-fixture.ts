import { db } from "../../src/db/client.js";
import type { ProfileContent } from "../../src/profiles/profile-content.js";

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
  const version = (await db.creatorProfile.count({ where: { creatorId } })) + 1;
  await db.creatorProfile.updateMany({ where: { creatorId, isActive: true }, data: { isActive: false } });
  return db.creatorProfile.create({ data: { creatorId, version, isActive: true, source: "MANUAL", ...content } });
}
