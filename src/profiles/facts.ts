import { Duration } from "luxon";
import type { ProfileService } from "./profile-content.js";

// A profile's facts as people write them in a message: prices without needless decimals in the
// currency's own grouping ("$450", "₹4,999"), durations in words, and sentences that end.

/** Locales whose grouping a currency's readers expect (the Indian lakh: ₹1,49,999); others read en-US. */
const CURRENCY_LOCALES: Record<string, string> = { INR: "en-IN", GBP: "en-GB", EUR: "en-IE", AUD: "en-AU" };

/**
 * An amount as people write it: "$450", "₹4,999", "€39.50" (cents only when there are some).
 * `amount` is in major units (450 means four hundred and fifty dollars); `currency` is ISO 4217,
 * or null for a bare number ("450").
 */
export function formatPrice(amount: number, currency: string | null): string {
  const locale = (currency && CURRENCY_LOCALES[currency]) ?? "en-US";
  // The currency's own minor unit (none for JPY), and no ".00" on a whole amount.
  const digits = currency
    ? (new Intl.NumberFormat("en-US", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2)
    : 2;
  const factor = 10 ** digits;
  const rounded = Math.round(amount * factor) / factor;
  const fraction = Number.isInteger(rounded) ? 0 : digits;
  const options = { minimumFractionDigits: fraction, maximumFractionDigits: fraction };
  if (!currency) return new Intl.NumberFormat(locale, options).format(rounded);
  return new Intl.NumberFormat(locale, { style: "currency", currency, ...options }).format(rounded);
}

/** A service's price as written, or null when the profile gives none. */
export function priceOf(service: ProfileService): string | null {
  return service.price === null ? null : formatPrice(service.price, service.currency);
}

/** A duration in minutes in words: "45 minutes", "1 hour 30 minutes", "8 weeks", "3 days" (Luxon's English units). */
export function formatDuration(minutes: number): string {
  const units: ("weeks" | "days" | "hours" | "minutes")[] =
    minutes % (7 * 24 * 60) === 0
      ? ["weeks"]
      : minutes % (24 * 60) === 0
        ? ["days"]
        : minutes >= 60
          ? ["hours", "minutes"]
          : ["minutes"];
  const duration = Duration.fromObject({ minutes }).shiftTo(...units);
  const parts = units
    .map((unit) => ({ unit, value: duration.get(unit) }))
    .filter((part) => part.value > 0)
    .map(({ unit, value }) => `${value} ${value === 1 ? unit.slice(0, -1) : unit}`);
  return parts.join(" ");
}

/** The text as a sentence: trimmed, with its final full stop if it had no closing punctuation. */
export function sentence(text: string): string {
  const trimmed = text.replace(/\s+/g, " ").trim();
  if (!trimmed) return "";
  // A link at the end keeps its last character its own: "More here: https://x.example/call".
  return /[.!?…:)"'»]$/u.test(trimmed) || /https?:\/\/\S+$/u.test(trimmed) ? trimmed : `${trimmed}.`;
}

/**
 * Sentences joined by single spaces, each ended properly; empty parts are left out. A sentence
 * ending in a link is followed by a line break instead, so the next one does not run on from it.
 */
export function joinSentences(...parts: (string | null | undefined | false)[]): string {
  const sentences = parts.filter((p): p is string => typeof p === "string" && p.trim().length > 0).map(sentence);
  return sentences
    .map((s, i) => (i === sentences.length - 1 ? s : `${s}${/https?:\/\/\S+$/u.test(s) ? "\n" : " "}`))
    .join("");
}

/** The text's sentences (split after . ! ? followed by a space and a capital or digit). */
export function sentencesOf(text: string): string[] {
  return text
    .replace(/\s+/g, " ")
    .trim()
    .split(/(?<=[.!?])\s+(?=[\p{Lu}\p{N}"'¿¡])/u)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The first `count` sentences of a text, each ended. */
export function firstSentences(text: string, count: number): string {
  return joinSentences(...sentencesOf(text).slice(0, count));
}

/** Sentences of the text that match the pattern, at most `count`. */
export function sentencesMatching(text: string, pattern: RegExp, count = 2): string[] {
  return sentencesOf(text)
    .filter((s) => pattern.test(s))
    .slice(0, count);
}

/** A name as people write it: "ana" -> "Ana"; a name already capitalised ("McKenzie", "de la Cruz") is kept. */
export function properName(name: string): string {
  return name === name.toLowerCase() ? name.charAt(0).toUpperCase() + name.slice(1) : name;
}

/** A person's first name as people write it ("ana maria" -> "Ana"), or null for no name. */
export function firstNameOf(fullName: string | null): string | null {
  const first = fullName?.trim().split(/\s+/)[0];
  return first ? properName(first) : null;
}
