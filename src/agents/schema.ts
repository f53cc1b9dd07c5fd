import { builder } from "../graphql/builder.js";
import { InvocationStatusEnum } from "./schema-types.js";

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
