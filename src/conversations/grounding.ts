// A model may reword a message, never add to it: every number, amount, link, address, code, date
// and offer in its wording must already be in the message it rewords, which was composed from
// the creator's profile. Anything else is a claim the creator never made.

const URL = /\b(?:https?:\/\/|www\.)[^\s<>()"']+/giu;
/** Bare domains and e-mail addresses, which messaging apps turn into links too. */
const DOMAIN =
  /\b[\p{L}\p{N}._%+-]+@[\p{L}\p{N}.-]+\.\p{L}{2,}\b|\b[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.(?:com|net|org|io|co|in|me|app|ly|link|shop|store|biz|info|xyz|site|online|page|example)\b/giu;
/** Numbers as written ("4,999", "1.5", "90"), compared without grouping or trailing zeros. */
const NUMBER = /\d(?:[\d,.\s]*\d)?/gu;
/** Codes people type at checkout: letters and digits together ("VIP90"), or the word after "code". */
const CODE =
  /\b(?=[\p{L}\d-]*\p{L})(?=[\p{L}\d-]*\d)[\p{L}\d-]{4,}\b|\b(?:code|coupon|cupón|cupom)\s*:?\s*([\p{L}\d-]{3,})/giu;
/** Words of an offer or a promise: the message reworded must use them first. */
const OFFER =
  /\b(discount\w*|coupon\w*|promo\w*|voucher\w*|off|percent|free|half|save|saving\w*|sale|deal|bonus|gift|guarantee\w*|money[- ]back|refund\w*|cashback|gratis|gratuit\w*|descuento|desconto|rabatt|remise|chhoot|muft)\b|%/giu;
/** Amounts written in words ("four hundred dollars"), which no digit check sees. */
const AMOUNT_IN_WORDS =
  /\b(one|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|forty|fifty|hundred|thousand|million|lakh|crore|k)\s+(dollars?|bucks|rupees?|euros?|pounds?|usd|inr|eur|gbp)\b/giu;
/** Dates and days: a reworded message may not move or add one. */
const WHEN =
  /\b(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|tomorrow|tonight|weekend)\b|\b\d{1,2}\s?(am|pm)\b/giu;

function numbersIn(text: string): string[] {
  return (text.match(NUMBER) ?? []).map((n) => n.replace(/[,\s]/g, "").replace(/\.0+$/, "").replace(/\.$/, ""));
}

const trimUrl = (url: string) =>
  url
    .replace(/[.,!?;:]+$/u, "")
    .replace(/\/$/, "")
    .toLowerCase();

/**
 * What a reworded message says that its source does not ([] when nothing): links and addresses
 * not in the source (exactly, so "https://x.example/call?next=evil" is new), numbers (any digit
 * script, NFKC-folded, so "３９９" is 399), codes, dates, offer words and amounts in words.
 */
export function claimsNotIn(reworded: string, source: string): string[] {
  const text = reworded.normalize("NFKC");
  const base = source.normalize("NFKC");
  const problems: string[] = [];
  const sourceUrls = new Set((base.match(URL) ?? []).map(trimUrl));
  for (const url of text.match(URL) ?? []) if (!sourceUrls.has(trimUrl(url))) problems.push(`link ${url}`);
  const withoutUrls = text.replace(URL, " ");
  const baseWithoutUrls = base.replace(URL, " ");
  const lowerBase = baseWithoutUrls.toLowerCase();
  for (const found of withoutUrls.match(DOMAIN) ?? []) {
    if (!lowerBase.includes(found.toLowerCase())) problems.push(`address ${found}`);
  }
  // Digits of other scripts (Devanagari "३९९") are numbers too.
  if (/(?![0-9])\p{Nd}/u.test(withoutUrls)) problems.push("digits in another script");
  const sourceNumbers = new Set(numbersIn(baseWithoutUrls));
  for (const number of numbersIn(withoutUrls)) if (!sourceNumbers.has(number)) problems.push(`number ${number}`);
  for (const match of withoutUrls.matchAll(CODE)) {
    const code = (match[1] ?? match[0]).toLowerCase();
    if (!lowerBase.includes(code)) problems.push(`code ${match[1] ?? match[0]}`);
  }
  for (const pattern of [OFFER, WHEN]) {
    for (const word of withoutUrls.match(pattern) ?? []) {
      const said =
        word === "%"
          ? lowerBase.includes("%")
          : new RegExp(`(^|[^\\p{L}])${word.toLowerCase()}([^\\p{L}]|$)`, "u").test(lowerBase);
      if (!said) problems.push(`"${word}"`);
    }
  }
  for (const words of withoutUrls.match(AMOUNT_IN_WORDS) ?? []) problems.push(`amount "${words}"`);
  return [...new Set(problems)];
}
