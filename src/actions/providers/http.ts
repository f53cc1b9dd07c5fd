import type { ProviderAnswer, SendResult } from "./provider.js";

/** Stored answers are for people reading a failure: a few kilobytes say enough. */
const MAX_STORED_BODY = 4_000;

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

async function readBody(response: Response): Promise<unknown> {
  const text = (await response.text()).slice(0, MAX_STORED_BODY);
  if (!response.headers.get("content-type")?.includes("json")) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errorCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code ?? (error as { code?: string }).code;
}

/**
 * POSTs a request and classifies the outcome; `onSuccess` reads the provider's message id from a
 * 2xx answer. HTTP 408, 429 and 5xx are worth another try, any other 4xx is a refusal.
 */
export async function postToProvider(
  request: HttpPost,
  onSuccess: (answer: HttpAnswer) => string | null,
): Promise<SendResult> {
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: "POST",
      headers: request.headers,
      body: request.body,
      signal: AbortSignal.timeout(request.timeoutMs),
      redirect: "error",
    });
  } catch (error) {
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
  let body: unknown;
  try {
    body = await readBody(response);
  } catch (error) {
    body = `unreadable body: ${(error as Error).message}`;
  }
  const answer: ProviderAnswer = { status: response.status, body };
  if (response.ok) return { ok: true, providerMessageId: onSuccess({ status: response.status, body }), answer };
  const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
  return {
    ok: false,
    kind: retryable ? "transient" : "rejected",
    reason: `HTTP ${response.status}`,
    answer,
  };
}
