// Text PostgreSQL can store: its text and jsonb types refuse the NUL character (U+0000), and
// jsonb refuses unpaired UTF-16 surrogates (half an emoji), which are not valid Unicode either.

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding NUL is the point.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, "g");

/** Whether PostgreSQL can store the string as it is. */
export const isStorableText = (text: string): boolean => !UNSTORABLE.test(text);

/** The string with each NUL and unpaired surrogate replaced by U+FFFD, the replacement character. */
export const storableString = (text: string): string => text.replace(UNSTORABLE_ALL, "\uFFFD");

/**
 * JSON text of a value that a jsonb column accepts: every string and object key made storable.
 * Throws what JSON.stringify throws (a cycle, a BigInt, nesting deeper than the stack allows).
 */
export function storableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === "string") return storableString(v);
    if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).some((k) => !isStorableText(k))) {
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [storableString(k), item]));
    }
    return v;
  });
}
