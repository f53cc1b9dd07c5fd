// A model may reword a message, never add to it: every number, amount, link, address, code, date
// and offer in its wording must already be in the message it rewords, which was composed from
// the creator's profile. Anything else is a claim the creator never made. The same reading checks
// a generated profile against its raw data (onboarding) and every agent message against the
// active profile (the outbound guardrail), for the commercial kinds.
//
// Every reading here is linear in the text: numbers and tokens are found by simple global
// patterns, and what surrounds each (a currency, a percent sign, a unit) is read from a few
// characters around it, so no input makes a pattern backtrack over the whole text.

import { CURRENCY_CODES } from "../validation.js";

/** Links as written: a scheme or "www." first. */
const URL = /(?:https?:\/\/|www\.)[^\s<>()"'“”‘’«»]+/giu;
/** Numbers as written ("4,999", "1.5", "450,00"), digits only inside. */
const NUMBER = /\d(?:[\d,.]*\d)?/gu;
/** Whitespace-separated tokens, for addresses and codes. */
const TOKEN = /\S+/gu;
/** What may surround a token without being part of it. */
const EDGE_PUNCTUATION = /^[("'“”‘’«»<[{¿¡]+|[.,!?;:)"'“”‘’«»>\]}…]+$/gu;
/** A bare domain, with an optional path: "maya.example", "pay.evil.example/x", "PAY.EVIL.COM", "Pay.Evil.Com". */
const DOMAIN = /^(?:[\p{L}\p{N}-]+\.)+(?:\p{Ll}{2,}|\p{Lu}{2,}|\p{Lu}\p{Ll}+)(?:[/?#]\S*)?$/u;
const EMAIL = /^[\p{L}\p{N}._%+-]+@(?:[\p{L}\p{N}-]+\.)+\p{L}{2,}$/u;
/** Codes people type at checkout: letters and digits together ("VIP90", "save-50"). */
const CODE_TOKEN = /^(?=[\p{L}\d_-]*\p{L})(?=[\p{L}\d_-]*\d)[\p{L}\d_-]{4,}$/u;
/** Not codes: times ("18h00"), a number with its unit or ordinal ("12-week", "90-minute", "100k", "21st", "3x"). */
const NOT_A_CODE = /^\d{1,2}h\d{2}$|^\d+(?:[.,]\d+)?-?\p{Ll}+$|^\p{Ll}+-\d+$/u;
/** A pattern for words in any case, while what follows them keeps its own ("code X" vs "code that"). */
const anyCase = (pattern: string) => pattern.replace(/\p{L}/gu, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`);
/**
 * Codes named as such, three ways: any word after "code:", "code is", "use code" or a foreign
 * word for a code ("use code friends"); a word in capitals or with a digit after "code",
 * "coupon", "promo" ("code FRIENDS"); a word in capitals after "enter", "apply", "use" ("enter
 * MAYAVIP at checkout"). "Write clean code that works" names none.
 */
const NAMED_CODES = [
  new RegExp(
    `(?<![\\p{L}])(?:${anyCase("(?:use|enter|apply|with|redeem) (?:the )?(?:promo |coupon |discount )?code")}|${anyCase("codes?")}\\s*(?::|${anyCase("is")})|${anyCase("coupon")}\\s*(?::|${anyCase("is")})|${anyCase("c(?:ó|o)digo|cup(?:ó|o)n|cupom|gutschein")})\\s*["“'‘]?([\\p{L}\\d][\\p{L}\\d_-]{2,})`,
    "gu",
  ),
  new RegExp(
    `(?<![\\p{L}])${anyCase("(?:codes?|coupons?|promo(?: code)?)")}\\s+["“'‘]?([\\p{Lu}\\d][\\p{Lu}\\d_-]{2,})(?![\\p{L}\\d])`,
    "gu",
  ),
  new RegExp(
    `(?<![\\p{L}])${anyCase("(?:enter|apply|use|redeem)")}\\s+["“'‘]?(\\p{Lu}[\\p{Lu}\\d_-]{3,})(?![\\p{L}\\d])`,
    "gu",
  ),
];
/** Percent signs and words right after a number. */
const PERCENT_AFTER = /^\s?(?:%|٪|percent\b|per cent\b|pct\b|por ciento\b|pour cent\b|prozent\b|por cento\b)/iu;
/** A percentage in words: "twenty percent", "fifty per cent". */
const PERCENT_IN_WORDS =
  /(?<![\p{L}])(\p{L}+(?:-\p{L}+)?)\s(?:percent|per cent|pct|por ciento|pour cent|prozent|por cento)(?![\p{L}])/giu;
/** Currency words: "ninety-nine dollars" is an amount too. */
const CURRENCY_WORDS = "dollars?|dólares|bucks|euros?|pounds?|quid|rupees?|rupias|reais|yen|francs?|pesos?";
const AMOUNT_IN_CURRENCY_WORDS = new RegExp(
  `(?<![\\p{L}])(\\p{L}+(?:-\\p{L}+)?)\\s(?:${CURRENCY_WORDS})(?![\\p{L}])`,
  "giu",
);
/** Amounts written in words ("three hundred"), which no digit check sees. */
const AMOUNT_IN_WORDS =
  /\b(hundred|thousand|million|lakh|crore|cien|cientos|mil|cent|cents|hundert|tausend|sau|hazaar)\b/giu;
/** Dates and days: a reworded message may not move or add one. */
const WHEN =
  /\b(january|february|march|april|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|tomorrow|tonight|weekend)\b|\b\d{1,2}\s?(am|pm)\b/giu;
/** The currency right before a number: a sign, an ISO code, "Rs."/"R$"/"US$". */
const CURRENCY_BEFORE = /(?:^|[^\p{L}])([$€£₹¥]|us\$|r\$|rs\.?|[a-z]{3})\s?$/iu;
/** The currency right after a number. */
const CURRENCY_AFTER = new RegExp(`^\\s?([$€£₹¥]|[a-z]{3}(?![\\p{L}])|(?:${CURRENCY_WORDS})(?![\\p{L}]))`, "iu");
/** A bare number read as a price: "only 999", "just 99/month", "save 300", "costs 900". */
const PRICE_WORD_BEFORE = /(?:^|[^\p{L}])(?:only|just|costs?|price[sd]?|priced at|price is|pay|save|for|at)\s?:?\s?$/iu;
const PER_UNIT_AFTER = /^\s?(?:\/|per |a )\s?(?:month|mo|week|wk|year|yr|session|hour|hr|class|lesson|seat|person)\b/iu;

/** Words of a discount: an offer only the creator may make ("20% off" is a percentage, below). */
const DISCOUNT_WORDS = [
  "discount\\w*",
  "coupons?",
  "promos?",
  "promo ?codes?",
  "promotional (?:offer|price|rate)s?",
  "vouchers?",
  "special offer",
  "on sale",
  "early[- ]bird",
  "half[- ]price",
  "waived?",
  "scholarships?",
  "complimentary",
  "descuento",
  "cup[oó]n",
  "rebaja",
  "desconto",
  "cupom",
  "remise",
  "rabatt",
  "gutschein",
  "chhoot",
];
/** Other words of an offer: a reworded message must use them first. */
const OFFER_WORDS = [
  "codes?",
  "promo\\w*",
  "reduced",
  "off",
  "percent",
  "(?<!feel )free",
  "half",
  "save",
  "saving\\w*",
  "deal",
  "bonus",
  "gift",
  "no charge",
  "at no cost",
  "for nothing",
  "instal(l)?ments?",
  "monthly",
  "payment plan",
  "gratis",
  "grátis",
  "gratuit\\w*",
  "sin costo",
  "oferta",
  "metade",
  "offert\\w*",
  "moitié",
  "kostenlos",
  "muft",
];
/** Promises and urgency. */
const PROMISE_WORDS = [
  "guarantee\\w*",
  "money[- ]back",
  "refund\\w*",
  "reembolso",
  "sold out",
  "reserved",
  "seats? left",
  "spots? left",
  "price goes up",
  "last chance",
  "limited",
  "hurry",
  "deadline",
  "expires?",
];
/** Payment routes and channels a scam would send people to. */
const PAYMENT_WORDS = [
  "telegram",
  "signal",
  "paypal",
  "venmo",
  "zelle",
  "upi",
  "gpay",
  "paytm",
  "crypto",
  "bitcoin",
  "card number",
  "cvv",
  "iban",
  "wire",
  "bank transfer",
  "dot com",
  "dot ru",
];
/** Whole words (any script's letters are word characters) of a list. */
const wordsOf = (words: string[]) => new RegExp(`(?<![\\p{L}])(?:${words.join("|")})(?![\\p{L}])`, "giu");
/** A number as a value: "4,999" and "4.999,00" -> "4999", "450,00" and "450.00" -> "450", "1.5" -> "1.5". */
function numericValue(number: string): string {
  // Dots as thousands separators ("1.200", "1.200,50"), as much of Europe writes them.
  const dottedThousands = /^\d{1,3}(?:\.\d{3})+(?:,\d+)?$/.test(number);
  const decimalComma = dottedThousands || (/,\d{1,2}$/.test(number) && !/\.\d/.test(number));
  const plain = decimalComma ? number.replace(/\./g, "").replace(",", ".") : number.replace(/,/g, "");
  return plain
    .replace(/\.0+$/, "")
    .replace(/(\.\d*?)0+$/, "$1")
    .replace(/\.$/, "");
}

/** The currency a sign, code or word means, so "$450", "USD 450" and "450 dollars" are one amount; null for none. */
function currencyOf(marker: string): string | null {
  const m = marker.trim().toLowerCase().replace(/\.$/, "");
  if (["$", "us$", "dollar", "dollars", "dólares", "bucks"].includes(m)) return "USD";
  if (["€", "euro", "euros"].includes(m)) return "EUR";
  if (["£", "pound", "pounds", "quid"].includes(m)) return "GBP";
  if (["₹", "rs", "rupee", "rupees", "rupias"].includes(m)) return "INR";
  if (["r$", "reais"].includes(m)) return "BRL";
  if (["¥", "yen"].includes(m)) return "JPY";
  if (["franc", "francs"].includes(m)) return "CHF";
  if (["peso", "pesos"].includes(m)) return "MXN";
  const code = m.toUpperCase();
  return CURRENCY_CODES.has(code) ? code : null;
}

/** The decimal digit a character of any script stands for ("३" -> 3), or null. */
function digitValue(char: string): number | null {
  if (!/\p{Nd}/u.test(char)) return null;
  // Unicode encodes each script's digits 0-9 in a row: count back to its zero.
  let code = char.codePointAt(0) as number;
  let value = 0;
  while (value < 9 && /\p{Nd}/u.test(String.fromCodePoint(code - 1))) {
    code--;
    value++;
  }
  return value;
}

/**
 * Text as compared: NFKC (fullwidth and mathematical digits and letters to plain ones), format
 * characters such as zero-width spaces removed, other scripts' digits as ASCII ("३९९" -> "399"),
 * and dots however written ("pay dot evil dot com", "pay[.]evil", "pay。evil") as ".".
 */
export function normalise(text: string): string {
  return text
    .normalize("NFKC")
    .replace(/\p{Cf}+/gu, "")
    .replace(/(?![0-9])\p{Nd}/gu, (d) => String(digitValue(d) ?? d))
    .replace(/[。｡]/gu, ".")
    .replace(/\s*(?:\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\})\s*/giu, ".")
    .replace(/(?<=[\p{L}\p{N}]) dot (?=[\p{L}\p{N}])/giu, ".");
}

/** A link or bare address as compared: lower case, without scheme, "www." or trailing punctuation. */
function linkKey(link: string): string {
  return link
    .toLowerCase()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//, "")
    .replace(/^www\./, "")
    .replace(/[.,!?;:]+$/u, "")
    .replace(/\/$/, "");
}

/** The host of a link key: "maya.example/sprint" -> "maya.example". */
const hostOf = (key: string) => key.split(/[/?#]/)[0];

/** What a text claims, each as compared: the claims it shares with its source are not news. */
type Claims = {
  links: Map<string, string>;
  addresses: Map<string, string>;
  numbers: Set<string>;
  amounts: Set<string>;
  percentages: Set<string>;
  codes: Map<string, string>;
  /** The text, normalised, in lower case and without its links: for words. */
  lower: string;
};

/** Reads every claim of a normalised text in one pass over its numbers and one over its tokens. */
function claimsOf(normalised: string): Claims {
  const links = new Map<string, string>();
  // A sentence's own full stop or comma after a link is not part of it.
  for (const url of normalised.match(URL) ?? []) links.set(linkKey(url), url.replace(/[.,!?;:]+$/u, ""));
  const text = normalised.replace(URL, " ");
  const numbers = new Set<string>();
  const amounts = new Set<string>();
  const percentages = new Set<string>();
  for (const m of text.matchAll(NUMBER)) {
    const value = numericValue(m[0]);
    numbers.add(value);
    const end = (m.index ?? 0) + m[0].length;
    const before = text.slice(Math.max(0, (m.index ?? 0) - 16), m.index);
    const after = text.slice(end, end + 16);
    if (PERCENT_AFTER.test(after)) percentages.add(`${value}%`);
    const currency =
      currencyOf(before.match(CURRENCY_BEFORE)?.[1] ?? "") ?? currencyOf(after.match(CURRENCY_AFTER)?.[1] ?? "");
    if (currency) amounts.add(`${currency} ${value}`);
    else if (PRICE_WORD_BEFORE.test(before) || PER_UNIT_AFTER.test(after)) amounts.add(`price ${value}`);
  }
  for (const m of text.matchAll(PERCENT_IN_WORDS)) percentages.add(`${m[1].toLowerCase()} percent`);
  for (const m of text.matchAll(AMOUNT_IN_CURRENCY_WORDS)) {
    if (!/^(?:in|of|the|and|or|more|less|few|many|some|your|our|us|no|any|all)$/i.test(m[1])) {
      amounts.add(`${m[1].toLowerCase()} ${m[0].slice(m[1].length + 1).toLowerCase()}`);
    }
  }
  const addresses = new Map<string, string>();
  const codes = new Map<string, string>();
  for (const [raw] of text.matchAll(TOKEN)) {
    const token = raw.replace(EDGE_PUNCTUATION, "");
    if (EMAIL.test(token) || DOMAIN.test(token)) addresses.set(linkKey(token), token);
    else if (CODE_TOKEN.test(token) && !NOT_A_CODE.test(token)) codes.set(token.toLowerCase(), token);
  }
  for (const pattern of NAMED_CODES) for (const [, code] of text.matchAll(pattern)) codes.set(code.toLowerCase(), code);
  return { links, addresses, numbers, amounts, percentages, codes, lower: text.toLowerCase() };
}

/** A source read once and checked against many texts (every sentence of a profile, every message). */
export type ClaimSource = Claims & {
  /** Every link and address key of the source, and their hosts. */
  places: Set<string>;
};

/** Reads a source for claimsNotIn: do it once when checking many texts against one source. */
export function claimSource(source: string): ClaimSource {
  const claims = claimsOf(normalise(source));
  const keys = [...claims.links.keys(), ...claims.addresses.keys()];
  return { ...claims, places: new Set([...keys, ...keys.map(hostOf)]) };
}

/**
 * The kinds of claim a text may have to share with its source: `link` (URLs), `address` (bare
 * domains and e-mail addresses), `number`, `amount` (a number with its currency), `percentage`,
 * `code` (what people type at checkout), `discount`, `offer`, `promise` and `payment` (words of
 * each), `date` (dates, days and times) and `words` (amounts in words).
 */
export type ClaimKind =
  | "link"
  | "address"
  | "number"
  | "amount"
  | "percentage"
  | "code"
  | "discount"
  | "offer"
  | "promise"
  | "payment"
  | "date"
  | "words";

/** Everything: what a model's rewording of a message may not add to it. */
export const ALL_CLAIMS: readonly ClaimKind[] = [
  "link",
  "address",
  "number",
  "amount",
  "percentage",
  "code",
  "discount",
  "offer",
  "promise",
  "payment",
  "date",
  "words",
];

/**
 * What only the creator's own data may say (issue #14): every amount, percentage, discount, code
 * and link. The outbound guardrail checks messages against the active profile for these, and
 * onboarding checks a generated profile against the raw data.
 */
export const COMMERCIAL_CLAIMS: readonly ClaimKind[] = ["link", "address", "amount", "percentage", "code", "discount"];

const WORD_LISTS: Partial<Record<ClaimKind, RegExp>> = {
  discount: wordsOf(DISCOUNT_WORDS),
  offer: wordsOf(OFFER_WORDS),
  promise: wordsOf(PROMISE_WORDS),
  payment: wordsOf(PAYMENT_WORDS),
  date: WHEN,
  words: AMOUNT_IN_WORDS,
};

/** Whether `word` is in `lowerSource` as a whole word. */
function saysWord(lowerSource: string, word: string): boolean {
  return new RegExp(`(^|[^\\p{L}])${word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([^\\p{L}]|$)`, "u").test(lowerSource);
}

/**
 * What `text` says that `source` does not ([] when nothing), for the `kinds` asked (all by
 * default). Both are normalised first (normalise). Links are compared without scheme, "www." or a
 * trailing slash ("https://x.example/call?next=evil" is still new beside "x.example/call"); a bare
 * address must be one of the source's or on one of its hosts. Amounts are compared with their
 * currency ("€450" is not "$450"), a bare number read as a price ("only 999") with any number of
 * the source; percentages, codes, and words of a discount, offer, promise, payment route, date or
 * amount must be the source's too. Each problem is named for a person: `amount USD 199`,
 * `code VIP90`, `percentage 50%`, `link https://…`, `"discount"`.
 */
export function claimsNotIn(
  text: string,
  source: string | ClaimSource,
  kinds: readonly ClaimKind[] = ALL_CLAIMS,
): string[] {
  const wanted = new Set(kinds);
  const base = typeof source === "string" ? claimSource(source) : source;
  const said = claimsOf(normalise(text));
  const problems: string[] = [];
  if (wanted.has("link")) {
    for (const [key, url] of said.links)
      if (!base.links.has(key) && !base.addresses.has(key)) problems.push(`link ${url}`);
  }
  if (wanted.has("address")) {
    for (const [key, address] of said.addresses) {
      if (!base.places.has(key) && !base.places.has(hostOf(key))) problems.push(`address ${address}`);
    }
  }
  if (wanted.has("number")) {
    for (const number of said.numbers) if (!base.numbers.has(number)) problems.push(`number ${number}`);
  }
  if (wanted.has("amount")) {
    for (const amount of said.amounts) {
      const known = amount.startsWith("price ")
        ? base.numbers.has(amount.slice("price ".length))
        : base.amounts.has(amount) || (!/\d/.test(amount) && saysWord(base.lower, amount));
      if (!known) problems.push(`amount ${amount}`);
    }
  }
  if (wanted.has("percentage")) {
    for (const p of said.percentages) if (!base.percentages.has(p)) problems.push(`percentage ${p}`);
  }
  if (wanted.has("code")) {
    for (const [key, code] of said.codes)
      if (!base.codes.has(key) && !base.lower.includes(key)) problems.push(`code ${code}`);
  }
  for (const kind of kinds) {
    const pattern = WORD_LISTS[kind];
    if (!pattern) continue;
    for (const word of said.lower.match(pattern) ?? []) if (!saysWord(base.lower, word)) problems.push(`"${word}"`);
  }
  if (wanted.has("offer") && said.lower.includes("%") && !base.lower.includes("%")) problems.push(`"%"`);
  return [...new Set(problems)];
}
