import type { Agent } from "../../generated/prisma/client.js";
import type { AgentContext, AgentEvent, Decision, PlannedAction } from "../agent.js";

export type AgentOutcome = {
  decision: Decision;
  actions: PlannedAction[];
  /** Steps a multi-step runtime went through, recorded with the decision. */
  trace?: string[];
};

/** What a runtime needs of an agent row. */
export type AgentRecord = Pick<Agent, "id" | "kind" | "runtime" | "config" | "status">;

/** How an agent is executed: in process, as a graph, or by a remote service. */
export interface AgentRuntime {
  run(agent: AgentRecord, ctx: AgentContext, event: AgentEvent): Promise<AgentOutcome>;
}
