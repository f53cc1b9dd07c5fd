import { AgentRuntime, AgentStatus, InvocationStatus } from "../generated/prisma/enums.js";
import { builder } from "../graphql/builder.js";
import { ownRowById } from "../graphql/tenancy.js";
import { visibleAgentConfig } from "./agent-config.js";

export const AgentRuntimeEnum = builder.enumType(AgentRuntime, {
  name: "AgentRuntime",
  description:
    "SIMPLE: in-process. LANGGRAPH: a graph that may call the LLM. EXTERNAL_HTTP: a signed POST to a service.",
});
export const AgentStatusEnum = builder.enumType(AgentStatus, { name: "AgentStatus" });
export const InvocationStatusEnum = builder.enumType(InvocationStatus, { name: "InvocationStatus" });

export const AgentNode = builder.prismaNode("Agent", {
  id: { field: "id" },
  // Another creator's id loads as missing: null, as an unknown id.
  findUnique: (id, ctx) => ownRowById(id, ctx),
  nullable: true,
  authScopes: (agent) => ({ creator: agent.creatorId }),
  fields: (t) => ({
    name: t.exposeString("name"),
    kind: t.exposeString("kind", { description: 'The registered agent class, e.g. "generic_sales".' }),
    runtime: t.expose("runtime", { type: AgentRuntimeEnum }),
    status: t.expose("status", { type: AgentStatusEnum }),
    config: t.field({
      type: "JSON",
      description:
        "The profile snapshot and tunables the agent runs with. Secrets are write-only: externalHttp shows secretSet, never the secret.",
      resolve: (agent) => visibleAgentConfig(agent.config),
    }),
    profile: t.prismaField({
      type: "CreatorProfile",
      nullable: true,
      description: "The profile version the agent's config was taken from.",
      resolve: (query, agent, _args, ctx) =>
        agent.profileId ? ctx.reads.db.creatorProfile.findUnique({ ...query, where: { id: agent.profileId } }) : null,
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    creator: t.relation("creator"),
  }),
});

export const InvocationNode = builder.prismaNode("AgentInvocation", {
  id: { field: "id" },
  // Another creator's id loads as missing: null, as an unknown id.
  findUnique: (id, ctx) => ownRowById(id, ctx),
  nullable: true,
  authScopes: (invocation) => ({ creator: invocation.creatorId }),
  description: "One run of an agent on one event.",
  fields: (t) => ({
    status: t.expose("status", { type: InvocationStatusEnum }),
    attempts: t.exposeInt("attempts"),
    acted: t.exposeBoolean("acted", { nullable: true, description: "Whether the agent decided to act." }),
    reason: t.exposeString("reason", { nullable: true, description: "Why it acted or not, in a sentence." }),
    decision: t.expose("decision", {
      type: "JSON",
      nullable: true,
      description: "The full decision: rules considered, plan.",
    }),
    error: t.exposeString("error", { nullable: true }),
    queuedAt: t.expose("queuedAt", { type: "DateTime" }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
    durationMs: t.exposeInt("durationMs", { nullable: true }),
    agent: t.relation("agent"),
    event: t.relation("event"),
    actions: t.relation("actions", { query: { orderBy: { sequence: "asc" } } }),
  }),
});
