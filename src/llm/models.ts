// What the chat models we may be configured with accept, and what they cost. Model ids carry
// a date suffix ("gpt-5-nano-2025-08-07"), so families are matched by their longest prefix.

export type ModelCapabilities = {
  /** `response_format: json_schema` (Structured Outputs); otherwise `json_object`. */
  structuredOutput: boolean;
  /** Whether a temperature may be sent: reasoning models (gpt-5, o-series) accept only the default. */
  temperature: boolean;
};

type ModelFamily = ModelCapabilities & {
  /** USD per million prompt tokens. */
  inputPerMillion: number;
  /** USD per million completion tokens (reasoning tokens included). */
  outputPerMillion: number;
};

const reasoning = { structuredOutput: true, temperature: false };
const structured = { structuredOutput: true, temperature: true };
const jsonMode = { structuredOutput: false, temperature: true };

/** OpenAI's list prices (standard tier). */
const MODEL_FAMILIES: Record<string, ModelFamily> = {
  "gpt-5": { ...reasoning, inputPerMillion: 1.25, outputPerMillion: 10 },
  "gpt-5-mini": { ...reasoning, inputPerMillion: 0.25, outputPerMillion: 2 },
  "gpt-5-nano": { ...reasoning, inputPerMillion: 0.05, outputPerMillion: 0.4 },
  o3: { ...reasoning, inputPerMillion: 2, outputPerMillion: 8 },
  "o3-mini": { ...reasoning, inputPerMillion: 1.1, outputPerMillion: 4.4 },
  "o4-mini": { ...reasoning, inputPerMillion: 1.1, outputPerMillion: 4.4 },
  "gpt-4.1": { ...structured, inputPerMillion: 2, outputPerMillion: 8 },
  "gpt-4.1-mini": { ...structured, inputPerMillion: 0.4, outputPerMillion: 1.6 },
  "gpt-4.1-nano": { ...structured, inputPerMillion: 0.1, outputPerMillion: 0.4 },
  "gpt-4o": { ...structured, inputPerMillion: 2.5, outputPerMillion: 10 },
  "gpt-4o-mini": { ...structured, inputPerMillion: 0.15, outputPerMillion: 0.6 },
  "gpt-4-turbo": { ...jsonMode, inputPerMillion: 10, outputPerMillion: 30 },
  "gpt-3.5-turbo": { ...jsonMode, inputPerMillion: 0.5, outputPerMillion: 1.5 },
};

const familiesByLength = Object.keys(MODEL_FAMILIES).sort((a, b) => b.length - a.length);

function familyOf(model: string): ModelFamily | null {
  const name = familiesByLength.find((prefix) => model === prefix || model.startsWith(`${prefix}-`));
  return name ? MODEL_FAMILIES[name] : null;
}

/** Unknown models (another provider behind OPENAI_BASE_URL) get JSON mode, the widely supported option. */
export function capabilitiesOf(model: string): ModelCapabilities {
  const family = familyOf(model);
  return family ? { structuredOutput: family.structuredOutput, temperature: family.temperature } : jsonMode;
}

/** Estimated cost in USD, or null for a model without a known price. */
export function estimateCostUsd(model: string, promptTokens: number, completionTokens: number): number | null {
  const family = familyOf(model);
  if (!family) return null;
  return (promptTokens * family.inputPerMillion + completionTokens * family.outputPerMillion) / 1_000_000;
}
