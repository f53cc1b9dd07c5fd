import type { AgentRuntime as RuntimeKind } from "../../generated/prisma/enums.js";
import { externalHttpRuntime } from "./external-http.js";
import { langGraphRuntime } from "./langgraph.js";
import type { AgentRuntime } from "./runtime.js";
import { simpleRuntime } from "./simple.js";

/** The runtimes this deployment can execute; deploying an agent on another one is refused. */
export const runtimes: Partial<Record<RuntimeKind, AgentRuntime>> = {
  SIMPLE: simpleRuntime,
  LANGGRAPH: langGraphRuntime,
  EXTERNAL_HTTP: externalHttpRuntime,
};
