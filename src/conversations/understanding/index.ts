import { llmConfigured } from "../../llm/openai-client.js";
import { deterministicUnderstander } from "./deterministic.js";
import { modelUnderstander } from "./model.js";
import type { Understander } from "./understander.js";

export type { Understanding } from "./intent.js";
export type { Understander, UnderstandingRequest, UnderstandingResult } from "./understander.js";

/** The understander of this process: the model when OPENAI_API_KEY is set, the deterministic one without. */
export function understander(): Understander {
  return llmConfigured() ? modelUnderstander : deterministicUnderstander;
}
