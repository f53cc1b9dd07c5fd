// A model may reword a message, never add to it: every number, amount, link, address, code, date
// and offer in its wording must already be in the message it rewords, which was composed from
// the creator's profile. Anything else is a claim the creator never made.

const URL = /\b(?:https?:\/\/|www\.)[^\s<>()"'“”‘’«»]+/giu;
/** Bare domains and e-mail addresses, which messaging apps turn into links too. */
const DOMAIN =
  /\b[\p{L}\p{N}._%+-]+@[\p{L}\p{N}.-]+\.\p{L}{2,}\b|\b[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{Ll}{2,}\b(?!\.\p{L})/gu;
/** Numbers as written ("4,999", "1.5", "450,00"), digits only inside. */
const NUMBER = /\d(?:[\d,.]*\d)?/gu;
/** An amount: a currency sign or code before or after a number. */
const AMOUNT =
  /(?<currency>[$€£₹¥]|\b(?:us\$|usd|eur|inr|gbp|rs\.?|r\$)\s?)\s?(?<number>\d(?:[\d,.]*\d)?)|(?<number2>\d(?:[\d,.]*\d)?)\s?(?<currency2>[$€£₹¥]|(?:usd|eur|inr|gbp|dollars?|dólares|euros?|rupees?|rupias|reais|bucks)\b)/giu;
/** Codes people type at checkout: letters and digits together ("VIP90"), not times ("18h00"). */
const CODE = /\b(?=[\p{L}\d-]*\p{L})(?=[\p{L}\d-]*\d)(?!\d{1,2}h\d{2}\b)[\p{L}\d-]{4,}\b/gu;
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
/** Percentages as values: "90%", "90 %", "12.5 percent", "20 por ciento". */
const PERCENTAGE = /(\d+(?:[.,]\d+)?)\s?(?:%|percent\b|per cent\b|por ciento\b|pour cent\b|prozent\b|por cento\b)/giu;
/** The word after "code" or "coupon" is a code, letters only or not ("use code SAVEBIG"). */
const NAMED_CODE =
  /(?<![\p{L}])(?:codes?|coupons?|promo(?: code)?|c[oó]digo|cup[oó]n|cupom|gutschein)\s*:?\s*["“'‘]?([\p{Lu}\d][\p{Lu}\d_-]{2,})\b/gu;
/** Amounts written in words ("three hundred"), which no digit check sees. */
const AMOUNT_IN_WORDS =
  /\b(hundred|thousand|million|lakh|crore|cien|cientos|mil|cent|cents|hundert|tausend|sau|hazaar)\b/giu;
/** Dates and days: a reworded message may not move or add one. */
const WHEN =
  /\b(january|february|march|april|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|tomorrow|tonight|weekend)\b|\b\d{1,2}\s?(am|pm)\b/giu;

/** A number as a value: "4,999" -> "4999", "450,00" and "450.00" -> "450", "1.5" -> "1.5". */
function numericValue(number: string): string {
  const decimalComma = /,\d{1,2}$/.test(number) && !/\.\d/.test(number);
  const plain = decimalComma ? number.replace(/\./g, "").replace(",", ".") : number.replace(/,/g, "");
  return plain
    .replace(/\.0+$/, "")
    .replace(/(\.\d*?)0+$/, "$1")
    .replace(/\.$/, "");
}

function numbersIn(text: string): string[] {
  return (text.match(NUMBER) ?? []).map(numericValue);
}

/** The currency a sign or word means, so "$450" and "450 dollars" are the same amount. */
function currencyOf(marker: string): string {
  const m = marker.trim().toLowerCase().replace(/\.$/, "");
  if (["$", "us$", "usd", "dollar", "dollars", "dólares", "bucks"].includes(m)) return "USD";
  if (["€", "eur", "euro", "euros"].includes(m)) return "EUR";
  if (["£", "gbp"].includes(m)) return "GBP";
  if (["₹", "inr", "rs", "rupee", "rupees", "rupias"].includes(m)) return "INR";
  if (["r$", "reais"].includes(m)) return "BRL";
  if (m === "¥") return "JPY";
  return m;
}

function amountsIn(text: string): string[] {
  return [...text.matchAll(AMOUNT)].map((m) => {
    const g = m.groups ?? {};
    return `${currencyOf(g.currency ?? g.currency2 ?? "")} ${numericValue(g.number ?? g.number2 ?? "")}`;
  });
}

const trimUrl = (url: string) =>
  url
    .replace(/[.,!?;:]+$/u, "")
    .replace(/\/$/, "")
    .toLowerCase();

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

const percentagesIn = (text: string) => [...text.matchAll(PERCENTAGE)].map((m) => `${numericValue(m[1])}%`);

function codesIn(text: string): string[] {
  return [...(text.match(CODE) ?? []), ...[...text.matchAll(NAMED_CODE)].map((m) => m[1])];
}

/** Whether `word` is in `lowerSource` as a whole word. */
function saysWord(lowerSource: string, word: string): boolean {
  return new RegExp(`(^|[^\\p{L}])${word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([^\\p{L}]|$)`, "u").test(lowerSource);
}

/**
 * What `text` says that `source` does not ([] when nothing), for the `kinds` asked (all by
 * default): links and addresses not in the source (exactly, so "https://x.example/call?next=evil"
 * is new), numbers (any digit script, NFKC-folded, so "３９９" is 399), amounts with their
 * currency, percentages, codes, and words of a discount, offer, promise, payment route, date or
 * amount. Each problem is named for a person to read: `amount USD 199`, `code VIP90`, `"discount"`.
 */
export function claimsNotIn(text: string, source: string, kinds: readonly ClaimKind[] = ALL_CLAIMS): string[] {
  const wanted = new Set(kinds);
  const said = text.normalize("NFKC");
  const base = source.normalize("NFKC");
  const problems: string[] = [];
  if (wanted.has("link")) {
    const sourceUrls = new Set((base.match(URL) ?? []).map(trimUrl));
    for (const url of said.match(URL) ?? []) if (!sourceUrls.has(trimUrl(url))) problems.push(`link ${url}`);
  }
  const withoutUrls = said.replace(URL, " ");
  const baseWithoutUrls = base.replace(URL, " ");
  const lowerBase = baseWithoutUrls.toLowerCase();
  if (wanted.has("address")) {
    for (const found of withoutUrls.match(DOMAIN) ?? []) {
      if (!lowerBase.includes(found.toLowerCase())) problems.push(`address ${found}`);
    }
  }
  if (wanted.has("number")) {
    // Digits of other scripts (Devanagari "३९९") are numbers too.
    if (/(?![0-9])\p{Nd}/u.test(withoutUrls)) problems.push("digits in another script");
    const sourceNumbers = new Set(numbersIn(baseWithoutUrls));
    for (const number of numbersIn(withoutUrls)) if (!sourceNumbers.has(number)) problems.push(`number ${number}`);
  }
  if (wanted.has("amount")) {
    // An amount must be one of the source's, currency and all: not "€450" for "$450", nor "$12" from "12 January".
    const sourceAmounts = new Set(amountsIn(baseWithoutUrls));
    for (const amount of amountsIn(withoutUrls)) if (!sourceAmounts.has(amount)) problems.push(`amount ${amount}`);
  }
  if (wanted.has("percentage")) {
    const sourcePercentages = new Set(percentagesIn(baseWithoutUrls));
    for (const p of percentagesIn(withoutUrls)) if (!sourcePercentages.has(p)) problems.push(`percentage ${p}`);
  }
  if (wanted.has("code")) {
    for (const code of codesIn(withoutUrls)) {
      if (!lowerBase.includes(code.toLowerCase())) problems.push(`code ${code}`);
    }
  }
  const lowerText = withoutUrls.toLowerCase();
  for (const kind of kinds) {
    const pattern = WORD_LISTS[kind];
    if (!pattern) continue;
    for (const word of lowerText.match(pattern) ?? []) if (!saysWord(lowerBase, word)) problems.push(`"${word}"`);
  }
  if (wanted.has("offer") && lowerText.includes("%") && !lowerBase.includes("%")) problems.push(`"%"`);
  return [...new Set(problems)];
}
