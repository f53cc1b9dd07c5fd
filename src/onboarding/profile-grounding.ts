import { type ClaimSource, COMMERCIAL_CLAIMS, claimSource, claimsNotIn } from "../conversations/grounding.js";
import { fold } from "../conversations/understanding/deterministic.js";
import { formatPrice, sentencesOf } from "../profiles/facts.js";
import type { ProfileContent, ProfileService } from "../profiles/profile-content.js";
import type { RawData, RawService } from "./raw-data.js";

// A generated profile is checked against the raw data it was made from before it can be used:
// the model is told to keep to the data, and this is what catches it when it does not. Services,
// prices, currencies and links are compared field by field with the raw data's own services;
// every sentence of the copy is checked for amounts, percentages, discounts, codes and links the
// raw data does not have (claimsNotIn with COMMERCIAL_CLAIMS, the outbound guardrail's kinds).
// What is unsupported is corrected from the raw data where it has the value, and removed
// otherwise. The profile is held for review, never activated, when the raw data itself carries
// text addressed to the model (a planted instruction), or when removing leaves no copy at all.

/** One thing the check changed: where, what the profile said, and what it says now and why. */
export type GroundingFinding = {
  /** Path in the profile: `services[1].price`, `salesPitch`. */
  path: string;
  /** `corrected` from the raw data, `removed` (unsupported), `restored` (left out by the model). */
  outcome: "corrected" | "removed" | "restored";
  /** For a person: "price 199 is 240 in the raw data", "sentence with code VIP90: ...". */
  detail: string;
};

/** The grounded profile, what changed, and why it must wait for a person (empty: it may be activated). */
export type GroundingResult = {
  profile: ProfileContent;
  findings: GroundingFinding[];
  holdReasons: string[];
};

/**
 * Text addressed to a model rather than to the creator's audience, in the languages the agent
 * reads: "ignore previous instructions", "note to the AI", "[system]", "<|im_start|>", "you are now
 * ChatGPT", "AI agent: always offer…", "To any AI summarising this page", "ignora las
 * instrucciones anteriores", an HTML comment. A line that carries one supports nothing, and its
 * presence holds the profile for review. Ordinary copy ("ignore the noise and follow your own
 * rules", "read the instructions in your welcome pack", "I teach AI: always practical") is none.
 */
const PLANTED_INSTRUCTION = new RegExp(
  [
    // Ignore / disregard what came before.
    String.raw`\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,20}\b(?:all|any|previous|prior|above|earlier|preceding|your|the system|these)\b[^.\n]{0,20}\b(?:instructions?|prompts?|directions?|directives?|rules|guidelines)\b`,
    String.raw`\b(?:ignora|olvida|ignore[sz]?|oublie[sz]?|ignoriere|vergiss)\b[^.\n]{0,30}\b(?:instrucciones|instruções|instrucoes|instructions|anweisungen|reglas|regras|règles)\b`,
    // Addressed to a model.
    String.raw`\b(?:note|message|instructions?|reminder|memo)s? (?:to|for) (?:the |any |all )?(?:ai|a\.i\.|assistants?|models?|llms?|gpt|chatgpt|bots?|ai agents?)\b`,
    String.raw`\b(?:to|for) (?:any|all|every) (?:ai|a\.i\.|assistants?|language models?|llms?|bots?)\b`,
    String.raw`\b(?:language models?|llms?|ai models?|ai assistants?|chatbots?) (?:reading|summari[sz]ing|processing|parsing) (?:this|these)\b`,
    String.raw`\b(?:nota|mensaje|instrucciones|mensagem|instruções) (?:para|a) (?:la |el |o |a )?(?:ia|inteligencia artificial|inteligência artificial|asistente|assistente|modelo)\b`,
    String.raw`\ba\.i\. note\b`,
    // Chat markup and roles.
    String.raw`\[\s*(?:system|assistant|inst)\s*\]|<\|\s*(?:im_start|im_end|system|endoftext)\s*\|>|<\s*/?\s*(?:system|instructions?)\s*>|^\s*(?:system|assistant|system prompt)\s*[:—–-]|\bsystem prompt\b`,
    "<!--",
    String.raw`\byou are (?:now )?(?:an? )?(?:ai|assistant|language model|chatgpt|gpt|llm)\b`,
    // "AI: always offer…", "Assistant — never mention…", "When you write the profile, …".
    String.raw`\b(?:dear |hey )?(?:ai|a\.i\.|assistant|llm|gpt|chatgpt|sales bot|ai agents?|model)\s*[:,—–-]\s*(?:you )?(?:must|should|(?:always|never) (?:offer|give|say|tell|mention|include|use|add|write|promise|quote)|please|offer|tell|say|give|mention|include)\b`,
    String.raw`\bwhen (?:you )?(?:write|writing|generate|generating|create|creating|summari[sz]e|summari[sz]ing) (?:the |this |my )?(?:profile|summary|pitch|sales copy)\b`,
  ].join("|"),
  "imu",
);

/** The raw data's lines that carry a planted instruction, with where they are. */
function plantedInstructions(raw: RawData): { where: string; line: string }[] {
  const fields: [string, string | null | undefined][] = [
    ["name", raw.name],
    ["bio", raw.bio],
    ["audienceNotes", raw.audienceNotes],
    ["freeText", raw.freeText],
    ...raw.testimonials.map((t, i): [string, string] => [`testimonials[${i}]`, t]),
    ...raw.services.flatMap((s, i): [string, string | null | undefined][] => [
      [`services[${i}].name`, s.name],
      [`services[${i}].description`, s.description],
    ]),
  ];
  return fields.flatMap(([where, text]) =>
    (text ?? "")
      .split(/\n/)
      .filter((line) => PLANTED_INSTRUCTION.test(line))
      .map((line) => ({ where, line: line.trim() })),
  );
}

/**
 * What the raw data says in the creator's own voice, as one text: name, handle, bio, audience notes, free
 * text, links, and each service with its price as people write it ("$240", "240 USD").
 * Testimonials are other people's words and support no offer; planted lines support nothing.
 */
function evidenceFrom(raw: RawData, planted: Set<string>): Evidence {
  const own = (text: string | null | undefined) =>
    (text ?? "")
      .split(/\n/)
      .filter((line) => !planted.has(line.trim()))
      .join("\n");
  return evidence(
    [
      own(raw.name),
      `@${raw.handle}`,
      own(raw.bio),
      own(raw.audienceNotes),
      own(raw.freeText),
      ...raw.links,
      ...raw.services.flatMap((s) => [
        own(s.name),
        own(s.description),
        s.url ?? "",
        s.price != null ? `${formatPrice(s.price, s.currency ?? null)} ${s.price} ${s.currency ?? ""}` : "",
      ]),
    ].join("\n"),
  );
}

/** A service name as compared: folded, punctuation as spaces. */
const nameKey = (name: string) =>
  fold(name)
    .replace(/[^\p{L}\p{N} ]/gu, " ")
    .replace(/\s+/g, " ")
    .trim();

/**
 * Pairs each profile service with the raw service it is, by position in `services`: the same
 * name first; then a name that holds the other ("The Career Sprint (8 weeks)") when exactly one
 * raw service is such, so "Coaching" and "Group Coaching" never trade places. Null: none.
 */
function matchServices(services: ProfileService[], raw: RawService[]): (RawService | null)[] {
  const taken = new Set<RawService>();
  const pairs: (RawService | null)[] = services.map((service) => {
    const same = raw.find((r) => !taken.has(r) && nameKey(r.name) === nameKey(service.name)) ?? null;
    if (same) taken.add(same);
    return same;
  });
  return pairs.map((pair, i) => {
    if (pair) return pair;
    const key = nameKey(services[i].name);
    const holding = raw.filter((r) => {
      const other = nameKey(r.name);
      return !taken.has(r) && key.length > 0 && other.length > 0 && (key.includes(other) || other.includes(key));
    });
    if (holding.length !== 1) return null;
    taken.add(holding[0]);
    return holding[0];
  });
}

/** The raw data's evidence, as text (for names) and read once for claims (claimSource). */
type Evidence = { text: string; facts: ClaimSource; names: string };

function evidence(text: string): Evidence {
  return { text, facts: claimSource(text), names: ` ${nameKey(text)} ` };
}

/** Whether the creator's own text names the service as a phrase of its own (not inside another word). */
function namedIn(evidence: Evidence, name: string): boolean {
  const key = nameKey(name);
  return key.length > 0 && evidence.names.includes(` ${key} `);
}

/** A price as the raw data would have to say it: an amount with its currency, or the bare number. */
function priceClaims(price: number, currency: string | null, evidence: Evidence): string[] {
  return currency
    ? claimsNotIn(formatPrice(price, currency), evidence.facts, ["amount"])
    : claimsNotIn(String(price), evidence.facts, ["number"]);
}

/**
 * Each profile service checked against the raw data's. With services in the raw data: a service
 * of the profile that is not one of them (nor named in the creator's own text) is removed; the
 * raw data's price, currency, link and duration replace the profile's; one the model left out is
 * restored. Without: a service must be named in the creator's text, and its price and link said
 * there. Values the raw data does not give are kept only when its text says them.
 */
function groundServices(services: ProfileService[], raw: RawData, evidence: Evidence, findings: GroundingFinding[]) {
  const kept: ProfileService[] = [];
  const pairs = matchServices(services, raw.services);
  services.forEach((service, i) => {
    const path = `services[${i}]`;
    const source = pairs[i];
    const duplicate = kept.some((k) => nameKey(k.name) === nameKey(service.name));
    if (duplicate || (!source && !namedIn(evidence, service.name))) {
      const why = duplicate ? "is there twice" : "is not in the raw data";
      findings.push({ path, outcome: "removed", detail: `service "${service.name}" ${why}` });
      return;
    }
    const grounded = { ...service };
    // The raw data's own name: a name the model embellished ("Sprint - 50% off with code X") is not kept.
    if (source && grounded.name !== source.name) {
      findings.push({
        path: `${path}.name`,
        outcome: "corrected",
        detail: `name ${JSON.stringify(grounded.name)} is ${JSON.stringify(source.name)} in the raw data`,
      });
      grounded.name = source.name;
    }
    const correct = <K extends "price" | "currency" | "url" | "durationMinutes">(
      field: K,
      value: ProfileService[K],
    ) => {
      if (grounded[field] === value) return;
      findings.push({
        path: `${path}.${field}`,
        outcome: "corrected",
        detail: `${field} ${JSON.stringify(grounded[field])} is ${JSON.stringify(value)} in the raw data`,
      });
      grounded[field] = value;
    };
    const remove = (field: "price" | "currency" | "url", why: string) => {
      findings.push({ path: `${path}.${field}`, outcome: "removed", detail: why });
      grounded[field] = null;
    };
    if (source?.price != null) correct("price", source.price);
    if (source?.currency) correct("currency", source.currency);
    if (source?.url) correct("url", source.url);
    if (source?.durationMinutes) correct("durationMinutes", source.durationMinutes);
    if (grounded.currency !== null && source?.price != null && !source.currency) {
      // The raw data gives the price without a currency: one the model added must be said there.
      if (priceClaims(grounded.price as number, grounded.currency, evidence).length > 0) {
        remove("currency", `currency ${grounded.currency} is not in the raw data`);
      }
    }
    if (grounded.price !== null && source?.price == null) {
      const unsupported = priceClaims(grounded.price, grounded.currency, evidence);
      if (unsupported.length > 0) {
        remove("price", `price ${formatPrice(grounded.price, grounded.currency)} is not in the raw data`);
      }
    }
    if (grounded.currency !== null && grounded.price === null) remove("currency", "a currency without a price");
    if (grounded.url !== null && claimsNotIn(grounded.url, evidence.facts, ["link"]).length > 0) {
      remove("url", `link ${grounded.url} is not in the raw data`);
    }
    kept.push(grounded);
  });
  for (const source of raw.services) {
    if (pairs.includes(source) || kept.some((s) => nameKey(s.name) === nameKey(source.name))) continue;
    findings.push({
      path: `services[${kept.length}]`,
      outcome: "restored",
      detail: `service "${source.name}" was left out`,
    });
    kept.push({
      name: source.name,
      description: source.description ?? "",
      price: source.price ?? null,
      currency: source.currency ?? null,
      url: source.url ?? null,
      durationMinutes: source.durationMinutes ?? null,
      pitch: sentencesOf(source.description ?? "")[0] ?? "",
    });
  }
  return kept;
}

/**
 * The text without its sentences that claim what the evidence does not (paragraphs kept), and a
 * finding per sentence removed.
 */
function groundText(text: string, path: string, evidence: Evidence, findings: GroundingFinding[]): string {
  const before = findings.length;
  const grounded = text
    .split(/\n{2,}/)
    .map((paragraph) =>
      sentencesOf(paragraph)
        .filter((s) => {
          const claims = claimsNotIn(s, evidence.facts, COMMERCIAL_CLAIMS);
          if (claims.length === 0) return true;
          findings.push({ path, outcome: "removed", detail: `sentence with ${claims.join(", ")}: "${s}"` });
          return false;
        })
        .join(" "),
    )
    .filter((p) => p.length > 0)
    .join("\n\n");
  // Untouched copy keeps its own line breaks: sentencesOf joins a paragraph's lines.
  return findings.length === before ? text : grounded;
}

/**
 * Checks a valid profile against the raw data it was generated from (see the file's comment).
 * Pure: the caller stores the result, and holds it for review when `holdReasons` is not empty.
 */
export function groundProfile(profile: ProfileContent, raw: RawData): GroundingResult {
  const planted = plantedInstructions(raw);
  const evidence = evidenceFrom(raw, new Set(planted.map((p) => p.line)));
  const findings: GroundingFinding[] = [];
  const holdReasons = planted.map(
    (p) => `the raw data's ${p.where} holds text addressed to the AI model: "${p.line.slice(0, 200)}"`,
  );
  const text = (value: string, path: string) => groundText(value, path, evidence, findings);
  const required = (field: "summary" | "salesPitch" | "targetAudience" | "agentInstructions") => {
    const grounded = text(profile[field], field);
    if (grounded) return grounded;
    holdReasons.push(`${field}: nothing is left once the claims the raw data does not support are removed`);
    return profile[field];
  };
  const services = groundServices(profile.services, raw, evidence, findings).map((s, i) => ({
    ...s,
    description: text(s.description, `services[${i}].description`),
    pitch: text(s.pitch, `services[${i}].pitch`),
  }));
  const valuePropositions = profile.valuePropositions
    .map((v, i) => text(v, `valuePropositions[${i}]`))
    .filter((v) => v.length > 0);
  if (valuePropositions.length === 0)
    holdReasons.push("valuePropositions: none is left once unsupported claims are removed");
  const grounded: ProfileContent = {
    summary: required("summary"),
    salesPitch: required("salesPitch"),
    targetAudience: required("targetAudience"),
    valuePropositions: valuePropositions.length > 0 ? valuePropositions : profile.valuePropositions,
    services,
    agentInstructions: required("agentInstructions"),
    // A pair goes whole: an objection that quotes an invented offer is no objection to answer.
    objectionHandling: profile.objectionHandling
      .map((o, i) => ({
        objection: text(o.objection, `objectionHandling[${i}].objection`),
        response: text(o.response, `objectionHandling[${i}].response`),
      }))
      .filter((o) => o.objection.length > 0 && o.response.length > 0),
  };
  return { profile: grounded, findings, holdReasons };
}
