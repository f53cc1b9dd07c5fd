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
/** Words of an offer, a promise, a payment route or an urgency: the message reworded must use them first. */
const CLAIMS = new RegExp(
  [
    // offers
    "discount\\w*",
    "coupons?",
    "codes?",
    "promo\\w*",
    "vouchers?",
    "off",
    "percent",
    "(?<!feel )free",
    "half",
    "save",
    "saving\\w*",
    "on sale",
    "deal",
    "bonus",
    "gift",
    "complimentary",
    "no charge",
    "at no cost",
    "special offer",
    "reduced",
    "waived?",
    "scholarships?",
    "early[- ]bird",
    "for nothing",
    "instal(l)?ments?",
    "monthly",
    "payment plan",
    "gratis",
    "grátis",
    "gratuit\\w*",
    "sin costo",
    "rebaja",
    "descuento",
    "desconto",
    "oferta",
    "metade",
    "offert\\w*",
    "moitié",
    "remise",
    "rabatt",
    "kostenlos",
    "chhoot",
    "muft",
    // promises and urgency
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
    // payment routes
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
  ].join("|"),
  "giu",
);
const CLAIM = new RegExp(`(?<![\\p{L}])(?:${CLAIMS.source})(?![\\p{L}])|%`, "giu");
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
  // An amount must be one of the source's, currency and all: not "€450" for "$450", nor "$12" from "12 January".
  const sourceAmounts = new Set(amountsIn(baseWithoutUrls));
  for (const amount of amountsIn(withoutUrls)) if (!sourceAmounts.has(amount)) problems.push(`amount ${amount}`);
  for (const code of withoutUrls.match(CODE) ?? []) {
    if (!lowerBase.includes(code.toLowerCase())) problems.push(`code ${code}`);
  }
  const lowerText = withoutUrls.toLowerCase();
  for (const pattern of [CLAIM, WHEN, AMOUNT_IN_WORDS]) {
    for (const word of lowerText.match(pattern) ?? []) {
      const said =
        word === "%"
          ? lowerBase.includes("%")
          : new RegExp(`(^|[^\\p{L}])${word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([^\\p{L}]|$)`, "u").test(lowerBase);
      if (!said) problems.push(`"${word}"`);
    }
  }
  return [...new Set(problems)];
}
