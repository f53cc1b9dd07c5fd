import { db } from "../db/client.js";
import { OnboardingStatus } from "../generated/prisma/enums.js";
import { builder } from "../graphql/builder.js";
import type { OnboardingMessage } from "../pubsub.js";
import { onboardingProgress } from "./onboarding-progress.js";
import { OnboardingNode, OnboardingStatusEnum } from "./schema.js";

const isOnboardingStatus = (status: string): status is OnboardingStatus => Object.hasOwn(OnboardingStatus, status);

const OnboardingProgressRef = builder.objectRef<OnboardingMessage>("OnboardingProgress").implement({
  description: "One event of an onboarding run: a step row written, or a change of the run's status.",
  fields: (t) => ({
    onboarding: t.prismaField({
      type: "Onboarding",
      description: "The run as it is now.",
      resolve: (query, message) => db.onboarding.findUniqueOrThrow({ ...query, where: { id: message.onboardingId } }),
    }),
    step: t.prismaField({
      type: "OnboardingLog",
      nullable: true,
      description: "The step row this event reports; null when the event is a status change of the run.",
      resolve: (query, message) =>
        message.logId ? db.onboardingLog.findUnique({ ...query, where: { id: message.logId } }) : null,
    }),
    status: t.field({
      type: OnboardingStatusEnum,
      nullable: true,
      description: "The run's new status (RUNNING, SUCCEEDED, FAILED, NEEDS_REVIEW); null for a step event.",
      resolve: (message) => (message.logId === null && isOnboardingStatus(message.status) ? message.status : null),
    }),
  }),
});

builder.subscriptionField("onboardingProgress", (t) =>
  t.field({
    type: OnboardingProgressRef,
    description:
      "The run's events from its start: what already happened, then each new step and status, in order. " +
      "The stream ends when the run succeeds, fails or is held for review.",
    args: { onboardingId: t.arg.globalID({ required: true, for: OnboardingNode }) },
    authScopes: async (_root, { onboardingId }) => {
      const onboarding = await db.onboarding.findUnique({
        where: { id: onboardingId.id },
        select: { creatorId: true },
      });
      // An unknown id passes for admins only, who then get NOT_FOUND; creator keys learn nothing.
      return { creator: onboarding?.creatorId ?? "" };
    },
    subscribe: (_root, { onboardingId }) => onboardingProgress(onboardingId.id),
    resolve: (message) => message,
  }),
);
