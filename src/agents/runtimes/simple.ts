import type { AgentContext, AgentEvent } from "../agent.js";
import { instantiateAgent } from "../registry.js";
import type { AgentOutcome, AgentRecord, AgentRuntime } from "./runtime.js";

/** Runs a registered agent class in the worker's process. */
export const simpleRuntime: AgentRuntime = {
  async run(agent: AgentRecord, ctx: AgentContext, event: AgentEvent): Promise<AgentOutcome> {
    const instance = instantiateAgent(agent);
    const decision = await instance.shouldAct(ctx, event);
    const actions = decision.act ? await instance.planActions(ctx, event, decision) : [];
    // What WhatsApp would refuse is left out, and the decision says so (BaseAgent.settle).
    return instance.settle(decision, actions);
  },
};
