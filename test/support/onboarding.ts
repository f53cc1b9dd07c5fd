import { graphql } from "../generated/gql.js";
import type { OnboardCreatorInput } from "../generated/graphql.js";
import type { TestApi } from "./api.js";
import { eventually } from "./processes.js";

// Onboarding through the API as an operator's console does it: start a run with an admin key,
// then wait for the run to finish. Each file reads the run with the fields it checks.

export const OnboardCreator = graphql(`
  mutation OnboardCreator($input: OnboardCreatorInput!) {
    onboardCreator(input: $input) {
      __typename
      ... on Onboarding {
        id
        status
        creator {
          id
          handle
        }
      }
      ...ErrorFields
    }
  }
`);

/** The steps of a run that succeeds at once, each as "step status", in order. */
export const SUCCEEDED_STEPS = [
  "generate_profile STARTED",
  "generate_profile SUCCEEDED",
  "validate STARTED",
  "validate SUCCEEDED",
  "check_facts STARTED",
  "check_facts SUCCEEDED",
  "store_profile STARTED",
  "store_profile SUCCEEDED",
  "deploy_agent STARTED",
  "deploy_agent SUCCEEDED",
];

/** A profile's content as the onboarding built it. */
export const ProfileContent = graphql(`
  fragment ProfileContent on CreatorProfile {
    summary
    salesPitch
    targetAudience
    valuePropositions
    services {
      name
      price
      currency
      url
      durationMinutes
      pitch
    }
    agentInstructions
    objectionHandling {
      objection
      response
    }
  }
`);

/** Starts an onboarding of the raw data; answers the run (id, status, creator), or throws with the answer. */
export async function startOnboarding(api: TestApi, adminKey: string, input: OnboardCreatorInput) {
  const response = await api.request(OnboardCreator, { input }, adminKey);
  const result = response.data?.onboardCreator;
  if (result?.__typename !== "Onboarding") throw new Error(`onboardCreator: ${JSON.stringify(response)}`);
  return result;
}

/** Reads a run until it has SUCCEEDED, FAILED or was held for review (NEEDS_REVIEW), and answers it. */
export function untilFinished<Run extends { status: string }>(
  read: () => Promise<Run | null | undefined>,
  timeoutMs?: number,
): Promise<Run> {
  return eventually(
    async () => {
      const run = await read();
      return run && ["SUCCEEDED", "FAILED", "NEEDS_REVIEW"].includes(run.status) ? run : undefined;
    },
    timeoutMs,
    "a finished onboarding",
  );
}
