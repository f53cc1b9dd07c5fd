import type { AgentClass } from "./agent.js";
import { GenericSalesAgent } from "./generic-sales-agent.js";

/** Agent classes by the name stored in Agent.kind: deploying another class is a registry entry, not a migration. */
export const agentClasses: Record<string, AgentClass> = {
  generic_sales: GenericSalesAgent,
};
