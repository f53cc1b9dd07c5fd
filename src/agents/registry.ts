import { UnrecoverableError } from "bullmq";
import type { AgentClass, BaseAgent } from "./agent.js";
import { agentConfigSchema } from "./agent-config.js";
import { GenericSalesAgent } from "./generic-sales-agent.js";
import type { AgentRecord } from "./runtimes/runtime.js";

/** Agent classes by the name stored in Agent.kind: deploying another class is a registry entry, not a migration. */
export const agentClasses: Record<string, AgentClass> = {
  generic_sales: GenericSalesAgent,
};

/**
 * An instance of the agent's class with its config, for one run. A misconfigured agent (no such
 * class, an invalid config) fails the same way on every retry: UnrecoverableError, not retried.
 */
export function instantiateAgent(agent: Pick<AgentRecord, "kind" | "config">): BaseAgent {
  const Class = agentClasses[agent.kind];
  if (!Class) throw new UnrecoverableError(`No agent class is registered as "${agent.kind}"`);
  const config = agentConfigSchema.safeParse(agent.config);
  if (!config.success) throw new UnrecoverableError(`Agent config is invalid: ${config.error.message}`);
  return new Class(config.data);
}
