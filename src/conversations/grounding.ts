import type { ProfileSnapshot } from "../agents/agent-config.js";

// A model-written reply may word the profile's facts, never add to them: every number (prices,
// percentages, dates), link and code in it must be found in the creator's active profile.

const URL = /\b(?:https?:\/\/|www\.)[^\s<>()"']+/giu;
/** Numbers as written ("4,999", "1.5", "90"), compared without grouping. */
const NUMBER = /\d[\d,.\s]*\d|\d/gu;
/** Codes people type at checkout: letters and digits together ("VIP90", "SAVE20"). */
const CODE = /\b(?=[A-Z0-9-]*[A-Z])(?=[A-Z0-9-]*\d)[A-Z0-9-]{4,}\b/gu;
/** Offer words a profile must itself use before a reply may. */
const OFFER_WORDS = /\b(discount|coupon|promo|voucher|% off|percent off|free trial|refund guarantee)\b/giu;

function numbersIn(text: string): string[] {
  return (text.match(NUMBER) ?? []).map((n) => n.replace(/[,\s]/g, "").replace(/\.0+$/, "").replace(/\.$/, ""));
}

function trimUrl(url: string): string {
  return url
    .replace(/[.,!?;:]+$/u, "")
    .replace(/\/$/, "")
    .toLowerCase();
}

/** The profile's text and numbers, in which a reply's facts must be found. */
function factsOf(profile: ProfileSnapshot): { text: string; numbers: Set<string>; urls: string[] } {
  const text = JSON.stringify({ ...profile, profileId: undefined, version: undefined });
  const numbers = new Set(numbersIn(text));
  for (const service of profile.services) {
    if (service.price !== null) numbers.add(String(service.price));
    const minutes = service.durationMinutes;
    if (minutes !== null) {
      // A duration may be worded in hours, days or weeks.
      for (const unit of [60, 24 * 60, 7 * 24 * 60]) if (minutes % unit === 0) numbers.add(String(minutes / unit));
    }
  }
  const urls = profile.services.flatMap((s) => (s.url ? [trimUrl(s.url)] : []));
  for (const found of text.match(URL) ?? []) urls.push(trimUrl(found));
  return { text: text.toLowerCase(), numbers, urls };
}

/**
 * What a reply says that the profile does not: numbers, links, codes and offer words not found in
 * it (an empty list means every fact is the profile's). Numbers 1 to 3 pass (counting words such
 * as "1 call" or "2 options" carry no claim).
 */
export function ungroundedFacts(reply: string, profile: ProfileSnapshot): string[] {
  const facts = factsOf(profile);
  const problems: string[] = [];
  for (const url of reply.match(URL) ?? []) {
    const link = trimUrl(url);
    if (!facts.urls.some((known) => link === known || link.startsWith(`${known}/`))) problems.push(`link ${url}`);
  }
  const withoutUrls = reply.replace(URL, " ");
  for (const number of numbersIn(withoutUrls)) {
    if (!facts.numbers.has(number) && !/^[1-3]$/.test(number)) problems.push(`number ${number}`);
  }
  for (const code of withoutUrls.match(CODE) ?? []) {
    if (!facts.text.includes(code.toLowerCase())) problems.push(`code ${code}`);
  }
  for (const word of withoutUrls.match(OFFER_WORDS) ?? []) {
    if (!facts.text.includes(word.toLowerCase())) problems.push(`offer "${word}"`);
  }
  return [...new Set(problems)];
}
