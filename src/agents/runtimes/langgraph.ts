import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { z } from "zod";
import { config } from "../../config.js";
import { claimsNotIn } from "../../conversations/grounding.js";
import { capabilitiesOf } from "../../llm/models.js";
import { llmConfigured, openai } from "../../llm/openai-client.js";
import type { AgentContext, AgentEvent, BaseAgent, Decision, PlannedAction } from "../agent.js";
import type { AgentConfig } from "../agent-config.js";
import { instantiateAgent } from "../registry.js";
import type { AgentOutcome, AgentRecord, AgentRuntime } from "./runtime.js";

// The LANGGRAPH runtime runs the agent as a graph: decide (the playbook) -> plan -> personalise.
// The last step asks the LLM to rewrite each drafted message in the creator's voice (the profile's
// agent instructions), keeping every fact; a rewrite that drops a link or fails keeps the draft.

const State = Annotation.Root({
  agent: Annotation<BaseAgent>,
  ctx: Annotation<AgentContext>,
  event: Annotation<AgentEvent>,
  decision: Annotation<Decision | null>,
  actions: Annotation<PlannedAction[]>,
  /** The path through the graph and what each step concluded, kept on the invocation. */
  trace: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
});
type GraphState = typeof State.State;

const rewriteSchema = z.object({ message: z.string().trim().min(1).max(1500) });
const URL_PATTERN = /https?:\/\/\S+/g;

async function personalise(
  action: PlannedAction,
  agentConfig: AgentConfig,
): Promise<{ action: PlannedAction; note: string }> {
  const draft = String(action.payload.message ?? "");
  if (!draft) return { action, note: "nothing to personalise" };
  // A template's words are the ones Meta approved: the message must stay its filled body.
  if (action.payload.whatsAppTemplate) return { action, note: "kept: a WhatsApp template message" };
  const model = config().OPENAI_MODEL;
  const profile = agentConfig.profile;
  try {
    const completion = await openai().chat.completions.create({
      model,
      response_format: { type: "json_object" },
      ...(capabilitiesOf(model).temperature ? { temperature: 0.5 } : {}),
      messages: [
        {
          role: "system",
          content: `You rewrite short ${action.channel === "WHATSAPP" ? "WhatsApp" : "email"} messages for ${profile?.creatorName ?? "a creator"}, a creator selling to ${profile?.targetAudience ?? "their audience"}. Follow these instructions: ${profile?.agentInstructions ?? "be warm and concise"}. Keep every fact, name, price and link of the draft; invent nothing. Answer with JSON: {"message": "..."}.`,
        },
        { role: "user", content: draft },
      ],
    });
    const parsed = rewriteSchema.safeParse(JSON.parse(completion.choices[0]?.message.content ?? "null"));
    if (!parsed.success) return { action, note: "kept the draft: the model's rewrite was not usable" };
    const invented = claimsNotIn(parsed.data.message, draft);
    if (invented.length > 0) {
      return { action, note: `kept the draft: the rewrite says what the draft does not (${invented.join(", ")})` };
    }
    const links = draft.match(URL_PATTERN) ?? [];
    if (!links.every((link) => parsed.data.message.includes(link))) {
      return { action, note: "kept the draft: the rewrite dropped a link" };
    }
    return {
      action: { ...action, payload: { ...action.payload, message: parsed.data.message, draft } },
      note: "personalised by the model",
    };
  } catch (error) {
    return { action, note: `kept the draft: ${error instanceof Error ? error.message : String(error)}` };
  }
}

const graph = new StateGraph(State)
  .addNode("decide", async (s: GraphState) => {
    const decision = await s.agent.shouldAct(s.ctx, s.event);
    return { decision, trace: [`decide: ${decision.rule}`] };
  })
  .addNode("plan", async (s: GraphState) => {
    const planned = await s.agent.planActions(s.ctx, s.event, s.decision as Decision);
    // What WhatsApp would refuse is left out, and the decision says so (BaseAgent.settle).
    const { decision, actions } = s.agent.settle(s.decision as Decision, planned);
    return { decision, actions, trace: [`plan: ${actions.length} action(s)`] };
  })
  .addNode("personalise", async (s: GraphState) => {
    const results = await Promise.all(s.actions.map((a) => personalise(a, s.agent.config)));
    return { actions: results.map((r) => r.action), trace: results.map((r, i) => `personalise #${i}: ${r.note}`) };
  })
  .addEdge(START, "decide")
  .addConditionalEdges("decide", (s: GraphState) => (s.decision?.act ? "plan" : END), ["plan", END])
  .addConditionalEdges("plan", (s: GraphState) => (llmConfigured() && s.actions.length > 0 ? "personalise" : END), [
    "personalise",
    END,
  ])
  .addEdge("personalise", END)
  .compile();

export const langGraphRuntime: AgentRuntime = {
  async run(agent: AgentRecord, ctx: AgentContext, event: AgentEvent): Promise<AgentOutcome> {
    const result = await graph.invoke({ agent: instantiateAgent(agent), ctx, event, decision: null, actions: [] });
    return { decision: result.decision as Decision, actions: result.actions, trace: result.trace };
  },
};
