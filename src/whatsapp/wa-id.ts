import { type PhoneNumber, parsePhoneNumberFromString } from "libphonenumber-js/max";

// A WhatsApp id (wa_id) is the account's phone number in digits, as it was when the account was
// registered. Where a country renumbered mobiles since (Brazil added a ninth digit after the
// area code in 2012-2016; Mexico dropped the "1" after +52 in 2019), older accounts keep the old
// form, which today's numbering plan no longer holds valid. Renumberings of this kind add or drop
// one digit right after the country code or right after the area code (the national destination
// code); libphonenumber's data (the "max" build, with number types and formats) tells which forms
// are valid today and where the area code ends.

/** Number types a WhatsApp account can stand for after renumbering: mobiles. */
const MOBILE_TYPES = new Set(["MOBILE", "FIXED_LINE_OR_MOBILE"]);

const parse = (e164: string) => parsePhoneNumberFromString(e164) ?? null;

const isValidMobile = (n: PhoneNumber | null) => !!n?.isValid() && MOBILE_TYPES.has(n.getType() ?? "");

/** Length of the national destination code, as the library's format for the number groups it. */
function destinationCodeLength(n: PhoneNumber): number | null {
  const groups = n.formatInternational().split(" ");
  return groups.length > 2 ? groups[1].replace(/\D/g, "").length : null;
}

/** The numbers one digit away at `positions` of the national number (inserted or dropped there). */
function oneDigitAway(n: PhoneNumber, positions: number[]): string[] {
  const national = n.nationalNumber;
  const prefix = `+${n.countryCallingCode}`;
  const out = new Set<string>();
  for (const at of new Set(positions)) {
    if (at > national.length) continue;
    for (let digit = 0; digit <= 9; digit++) out.add(`${prefix}${national.slice(0, at)}${digit}${national.slice(at)}`);
    if (at < national.length) out.add(`${prefix}${national.slice(0, at)}${national.slice(at + 1)}`);
  }
  return [...out];
}

/**
 * The numbers a wa_id may stand for: `own`, its digits as an E.164 number; `variants`, the forms
 * of the same account under a renumbering (see above), which never include another valid number:
 * - a wa_id that is not valid today (an old account): the valid mobiles one digit away, after the
 *   country code or the area code: `55 11 8765-4321` -> `+5511987654321`;
 * - a valid mobile wa_id: the numbers one digit away there that are possible but not valid today,
 *   as a consumer stored in the old form has: `55 11 98765-4321` -> `+551187654321`.
 * `own` is null when the digits are no phone number at all.
 */
export function numbersOfWaId(waId: string): { own: string | null; variants: string[] } {
  const digits = waId.replace(/\D/g, "");
  const number = parse(`+${digits}`);
  if (!number) return { own: null, variants: [] };
  const own = number.number;
  if (number.isValid()) {
    if (!isValidMobile(number)) return { own, variants: [] };
    const ndc = destinationCodeLength(number);
    const legacy = oneDigitAway(number, ndc ? [0, ndc] : [0]).filter((e164) => {
      const candidate = parse(e164);
      return !!candidate && !candidate.isValid() && candidate.isPossible();
    });
    return { own, variants: legacy };
  }
  const current = oneDigitAway(number, [...Array(number.nationalNumber.length + 1).keys()]).filter((e164) => {
    const candidate = parse(e164);
    if (!candidate || !isValidMobile(candidate)) return false;
    // The digit changed must sit right after the country code or the candidate's area code.
    const ndc = destinationCodeLength(candidate);
    const changedAt = firstDifference(candidate.nationalNumber, number.nationalNumber);
    return changedAt === 0 || changedAt === ndc;
  });
  return { own, variants: current };
}

/** Where two national numbers one digit apart first differ. */
function firstDifference(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * The number to store for a new consumer known only by its wa_id: the wa_id's own when valid,
 * else its one current form; null when neither is a possible number.
 */
export function phoneOfWaId(waId: string): string | null {
  const { own, variants } = numbersOfWaId(waId);
  if (own && parse(own)?.isValid()) return own;
  if (variants.length === 1) return variants[0];
  return own && parse(own)?.isPossible() ? own : null;
}
