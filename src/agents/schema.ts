import { ChannelEnum, CreatorNode } from "../creators/schema.js";
import { db } from "../db/client.js";
import { builder } from "../graphql/builder.js";
import { mutationErrors } from "../graphql/error-types.js";
import { given } from "../graphql/input.js";
import { notFoundWhenRefused } from "../graphql/tenancy.js";
import { type DeployAgentInput, deployAgent, retryInvocation, setAgentStatus } from "./agent-service.js";
import { AgentNode, AgentRuntimeEnum, InvocationNode, InvocationStatusEnum } from "./schema-types.js";

builder.prismaObjectFields("Creator", (t) => ({
  agents: t.relation("agents", { query: { orderBy: [{ createdAt: "asc" }] } }),
  invocations: t.relatedConnection("invocations", {
    cursor: "id",
    totalCount: true,
    description: "Agent runs, newest first.",
    args: { status: t.arg({ type: [InvocationStatusEnum], description: "Any of these statuses." }) },
    query: ({ status }) => ({
      where: status ? { status: { in: status } } : {},
      orderBy: [{ queuedAt: "desc" }, { id: "desc" }],
    }),
  }),
}));

const TunablesInput = builder.inputType("AgentTunablesInput", {
  description: "Unset fields keep their current value.",
  fields: (t) => ({
    minHoursBetweenMessages: t.float(),
    welcomeDelayMinutes: t.int(),
    serviceViewsForFollowUp: t.int(),
    channelPreference: t.field({ type: [ChannelEnum] }),
    allowChannelFallback: t.boolean(),
    replyDelaySeconds: t.int({
      description: "Seconds a reply waits after the consumer's message, so a burst of messages gets one answer.",
    }),
    quietDaysForNewCycle: t.int({
      description: "Days without any event after which a returning consumer may be followed up again.",
    }),
  }),
});

const ExternalHttpInput = builder.inputType("ExternalHttpInput", {
  fields: (t) => ({
    url: t.string({ required: true }),
    secret: t.string({ required: true, description: "HMAC-SHA256 key for X-Closer-Signature (16+ characters)." }),
    timeoutMs: t.int(),
    retries: t.int(),
  }),
});

const DeployAgentInputType = builder.inputType("DeployAgentInput", {
  fields: (t) => ({
    creatorId: t.globalID({ required: true, for: CreatorNode }),
    name: t.string({ description: 'Deploying with an existing name updates that agent. Defaults to "Sales agent".' }),
    kind: t.string({ description: 'A registered agent class; defaults to "generic_sales".' }),
    runtime: t.field({ type: AgentRuntimeEnum }),
    tunables: t.field({ type: TunablesInput }),
    externalHttp: t.field({ type: ExternalHttpInput }),
  }),
});

builder.mutationField("deployAgent", (t) =>
  t.field({
    type: AgentNode,
    errors: mutationErrors,
    description: "Deploys an agent for a creator with its active profile, or updates the agent of that name.",
    args: { input: t.arg({ type: DeployAgentInputType, required: true }) },
    authScopes: (_root, { input }) => ({ creator: input.creatorId.id }),
    resolve: (_root, { input }, ctx) =>
      deployAgent(
        {
          creatorId: input.creatorId.id,
          name: input.name ?? undefined,
          kind: input.kind ?? undefined,
          runtime: input.runtime ?? undefined,
          // A channel the agent cannot prefer (WEBHOOK) is refused by the service's validation.
          tunables: input.tunables ? (given(input.tunables) as DeployAgentInput["tunables"]) : undefined,
          externalHttp: input.externalHttp ? given(input.externalHttp) : undefined,
        },
        ctx.viewer,
      ),
  }),
);

async function creatorOfAgent(id: string) {
  return (await db.agent.findUnique({ where: { id }, select: { creatorId: true } }))?.creatorId ?? null;
}

for (const [field, status] of [
  ["pauseAgent", "PAUSED"],
  ["resumeAgent", "ACTIVE"],
] as const) {
  builder.mutationField(field, (t) =>
    t.field({
      type: AgentNode,
      errors: mutationErrors,
      description:
        status === "PAUSED" ? "Stops the agent from acting on new events." : "Lets a paused agent act again.",
      args: { id: t.arg.globalID({ required: true, for: AgentNode }) },
      authScopes: async (_root, { id }) => {
        const creatorId = await creatorOfAgent(id.id);
        return creatorId ? { creator: creatorId } : { manager: true };
      },
      unauthorizedResolver: notFoundWhenRefused("Agent", (args: { id: { id: string } }) => args.id.id),
      resolve: (_root, { id }, ctx) => setAgentStatus(id.id, status, ctx.viewer),
    }),
  );
}

builder.mutationField("retryInvocation", (t) =>
  t.field({
    type: InvocationNode,
    errors: mutationErrors,
    description: "Runs a failed invocation again.",
    args: { id: t.arg.globalID({ required: true, for: InvocationNode }) },
    authScopes: async (_root, { id }) => {
      const found = await db.agentInvocation.findUnique({ where: { id: id.id }, select: { creatorId: true } });
      return found ? { creator: found.creatorId } : { manager: true };
    },
    unauthorizedResolver: notFoundWhenRefused("AgentInvocation", (args: { id: { id: string } }) => args.id.id),
    resolve: (_root, { id }, ctx) => retryInvocation(id.id, ctx.viewer),
  }),
);

builder.queryField("failedInvocations", (t) =>
  t.prismaConnection({
    type: "AgentInvocation",
    cursor: "id",
    description:
      "The dead-letter view: agent runs that failed after every retry, newest first. Admin keys see all creators.",
    authScopes: { manager: true },
    resolve: (query, _root, _args, ctx) =>
      ctx.reads.db.agentInvocation.findMany({
        ...query,
        where: {
          status: "FAILED",
          ...(ctx.viewer?.kind === "ADMIN" ? {} : { creatorId: ctx.viewer?.creatorId as string }),
        },
        orderBy: [{ finishedAt: "desc" }, { id: "desc" }],
      }),
  }),
);
