import OpenAI from "openai";
import { config } from "../config.js";

let client: OpenAI | undefined;

/** The process's OpenAI client: model endpoint, key, timeout and retries from the configuration. */
export function openai(): OpenAI {
  const { OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_TIMEOUT_MS, OPENAI_MAX_RETRIES } = config();
  client ??= new OpenAI({
    apiKey: OPENAI_API_KEY,
    baseURL: OPENAI_BASE_URL,
    timeout: OPENAI_TIMEOUT_MS,
    // The SDK retries 408, 409, 429 (honouring retry-after), 5xx, timeouts and connection errors.
    maxRetries: OPENAI_MAX_RETRIES,
  });
  return client;
}

/** Whether a model is configured; without a key, profiles come from the offline builder and messages stay as written. */
export function llmConfigured(): boolean {
  return config().OPENAI_API_KEY !== undefined;
}
