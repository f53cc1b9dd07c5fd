import { type GuardedHttpClient, outboundHttp, refusalOf } from "../../outbound/guarded-http.js";
import type { ProviderAnswer, SendResult, SendSuccess } from "./provider.js";

/** Of an answer, this much is read at most (a WhatsApp send answer is a few hundred bytes). */
const MAX_READ_BYTES = 64 * 1024;
/** A JSON answer this short is stored whole; a longer one, or any other, as an excerpt. */
const MAX_STORED_JSON = 1_000;
const EXCERPT_CHARS = 300;

/** Errors raised before a request left this machine: the message certainly was not sent. */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

export type HttpPost = {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
};

export type HttpAnswer = { status: number; body: unknown };

/** Reads at most MAX_READ_BYTES of the answer, then lets the rest go. */
async function readText(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < MAX_READ_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => {});
  return Buffer.concat(chunks).subarray(0, MAX_READ_BYTES).toString("utf8");
}

/**
 * The answer as the provider's code reads it (parsed JSON when it is JSON) and as it is stored
 * for people reading a failure: a short JSON answer whole, anything else as a short excerpt with
 * control characters removed, never a whole page.
 */
async function readAnswer(response: Response): Promise<{ parsed: unknown; stored: ProviderAnswer }> {
  const text = await readText(response);
  let parsed: unknown = text;
  if (response.headers.get("content-type")?.includes("json")) {
    try {
      parsed = JSON.parse(text);
    } catch {}
  }
  if (parsed !== text && text.length <= MAX_STORED_JSON)
    return { parsed, stored: { status: response.status, body: parsed } };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point.
  const excerpt = text.replace(/[\u0000-\u001f\u007f]+/g, " ").slice(0, EXCERPT_CHARS);
  return { parsed, stored: { status: response.status, excerpt, length: text.length } };
}

function errorCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code ?? (error as { code?: string }).code;
}

/**
 * POSTs a request through the guarded client (no internal address, no redirect) and classifies
 * the outcome; `onSuccess` reads the provider's message id (and what else it names) from a 2xx answer. HTTP 408, 429 and
 * 5xx are worth another try; any other 4xx, a 3xx, or a refused destination is a refusal.
 */
export async function postToProvider(
  request: HttpPost,
  onSuccess: (answer: HttpAnswer) => Omit<SendSuccess, "ok" | "answer">,
  client: GuardedHttpClient = outboundHttp(),
): Promise<SendResult> {
  let response: Response;
  try {
    response = await client.request(request.url, {
      headers: request.headers,
      body: request.body,
      timeoutMs: request.timeoutMs,
    });
  } catch (error) {
    const refusal = refusalOf(error);
    if (refusal) return { ok: false, kind: "rejected", reason: refusal.message, answer: { error: refusal.message } };
    const code = errorCode(error);
    const answer: ProviderAnswer = { error: (error as Error).message, code: code ?? null };
    if (code && NOT_SENT_CODES.has(code)) {
      return { ok: false, kind: "transient", reason: `provider unreachable (${code})`, answer };
    }
    const timedOut = (error as Error).name === "TimeoutError";
    return {
      ok: false,
      kind: "unknown",
      reason: timedOut ? `no answer within ${request.timeoutMs} ms` : `connection lost (${code ?? "unknown error"})`,
      answer,
    };
  }
  let read: { parsed: unknown; stored: ProviderAnswer };
  try {
    read = await readAnswer(response);
  } catch (error) {
    read = { parsed: null, stored: { status: response.status, error: `unreadable body: ${(error as Error).message}` } };
  }
  const answer = read.stored;
  if (response.ok) return { ok: true, ...onSuccess({ status: response.status, body: read.parsed }), answer };
  if (response.status >= 300 && response.status < 400) {
    return { ok: false, kind: "rejected", reason: `HTTP ${response.status}: redirects are not followed`, answer };
  }
  const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
  return {
    ok: false,
    kind: retryable ? "transient" : "rejected",
    reason: `HTTP ${response.status}`,
    answer,
  };
}
