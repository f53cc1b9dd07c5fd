import { UnrecoverableError } from "bullmq";
import type { AgentContext, AgentEvent } from "../agent.js";
import { agentConfigSchema } from "../agent-config.js";
import { agentClasses } from "../registry.js";
import type { AgentOutcome, AgentRecord, AgentRuntime } from "./runtime.js";

/** Runs a registered agent class in the worker's process. */
export const simpleRuntime: AgentRuntime = {
  async run(agent: AgentRecord, ctx: AgentContext, event: AgentEvent): Promise<AgentOutcome> {
    const AgentClass = agentClasses[agent.kind];
    // A misconfigured agent fails the same way on every retry: don't retry it.
    if (!AgentClass) throw new UnrecoverableError(`No agent class is registered as "${agent.kind}"`);
    const config = agentConfigSchema.safeParse(agent.config);
    if (!config.success) throw new UnrecoverableError(`Agent config is invalid: ${config.error.message}`);
    const instance = new AgentClass(config.data);
    const decision = await instance.shouldAct(ctx, event);
    const actions = decision.act ? await instance.planActions(ctx, event, decision) : [];
    return { decision, actions };
  },
};
