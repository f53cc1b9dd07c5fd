import { priceOf } from "../profiles/facts.js";
import type { ProfileContent, ProfileService } from "../profiles/profile-content.js";
import type { RawData, RawService } from "./raw-data.js";

// The profile built without an LLM (no OPENAI_API_KEY): plain sentences assembled from the raw
// data, deterministic, so the whole system runs end to end on any machine. Stored with source
// OFFLINE and model "offline", so nobody mistakes it for generated copy.

export const OFFLINE_MODEL = "offline";

export function buildOfflineProfile(raw: RawData): ProfileContent {
  const services = raw.services.map(toProfileService);
  const serviceNames = listing(services.map((s) => s.name));
  const targetAudience =
    raw.audienceNotes ||
    (serviceNames
      ? `People looking for ${serviceNames}.`
      : `People who follow ${raw.name} and want to work with them.`);

  const summary = paragraphs(
    raw.bio ? `${raw.name} (@${raw.handle}): ${raw.bio}` : `${raw.name} (@${raw.handle}).`,
    services.length > 0 &&
      `${raw.name} offers ${services.length === 1 ? "one service" : `${services.length} services`}: ${serviceNames}.`,
    raw.audienceNotes && `Audience: ${raw.audienceNotes}`,
    raw.freeText,
  );

  const salesPitch = paragraphs(
    raw.bio ? `Work with ${raw.name}. ${firstSentence(raw.bio)}` : `Work with ${raw.name}.`,
    services.length > 0 && services.map((s) => s.pitch).join(" "),
    raw.testimonials[0] && `As one client put it: "${raw.testimonials[0]}"`,
  );

  const valuePropositions = [
    ...services.map((s) => (s.description ? `${s.name}: ${firstSentence(s.description)}` : s.name)),
    ...raw.testimonials.slice(0, 2).map((t) => `Trusted by clients: "${firstSentence(t)}"`),
    `Direct access to ${raw.name}'s experience`,
  ].slice(0, 7);

  const agentInstructions = paragraphs(
    `You sell for ${raw.name}. Be warm, brief and specific; write as a helpful assistant of ${raw.name}, never as ${raw.name}.`,
    services.length > 0 &&
      `Recommend the service that matches what the person looked at (${serviceNames}), with its price and link when known.`,
    "Never invent prices, results, guarantees or testimonials. Stop selling when the person buys, declines or asks you to stop.",
  );

  const cheapest = services
    .filter((s) => s.price !== null && s.price > 0)
    .sort((a, b) => (a.price ?? 0) - (b.price ?? 0))[0];
  const objectionHandling = [
    {
      objection: "It is too expensive.",
      response: cheapest
        ? `${cheapest.name} is the simplest way to start, at ${priceOf(cheapest)}.`
        : `Ask what budget works for them, and point them to the option of ${raw.name}'s that fits it.`,
    },
    {
      objection: "I don't have time right now.",
      response: `Understood. ${raw.name}'s offer will still be here; ask when would be a better moment to follow up.`,
    },
    {
      objection: "Is this right for me?",
      response: raw.testimonials[0]
        ? `Others in the same situation said: "${raw.testimonials[0]}". Ask what they want to achieve.`
        : `Ask what they want to achieve, and explain which of ${raw.name}'s services fits it.`,
    },
  ];

  return {
    summary,
    salesPitch,
    targetAudience,
    valuePropositions,
    services,
    agentInstructions,
    objectionHandling,
  };
}

/**
 * A raw service as the profile holds it. The pitch is the description's first sentence alone: the
 * agent writes the name, price and link around it ("Thanks for looking at X. <pitch> It's $1,200."),
 * so repeating them here would say them twice.
 */
function toProfileService(service: RawService): ProfileService {
  const description = service.description ?? "";
  const pitch = description ? firstSentence(description) : "";
  return {
    name: service.name,
    description,
    price: service.price ?? null,
    currency: service.currency ?? null,
    url: service.url ?? null,
    durationMinutes: service.durationMinutes ?? null,
    pitch,
  };
}

function firstSentence(text: string): string {
  const sentence = /^[\s\S]*?[.!?](?=\s|$)/.exec(text.trim())?.[0] ?? text.trim();
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}

function listing(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

function paragraphs(...parts: (string | false | null | undefined)[]): string {
  return parts.filter((part): part is string => Boolean(part)).join("\n\n");
}
