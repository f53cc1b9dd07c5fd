import { ConflictError, type DomainError, NotFoundError, ValidationError } from "../errors.js";
import { builder } from "./builder.js";

const ErrorInterface = builder.interfaceRef<DomainError>("Error").implement({
  description: "An expected failure of a mutation; `code` is stable, `message` is for people.",
  fields: (t) => ({
    message: t.exposeString("message"),
    code: t.exposeString("code"),
  }),
});

const FieldIssueRef = builder.simpleObject("FieldIssue", {
  fields: (t) => ({
    path: t.string({ description: "Dotted path of the offending input field." }),
    message: t.string(),
  }),
});

builder.objectType(ValidationError, {
  name: "ValidationError",
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({ issues: t.field({ type: [FieldIssueRef], resolve: (e) => e.issues }) }),
});

builder.objectType(NotFoundError, {
  name: "NotFoundError",
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotFoundError,
  fields: (t) => ({ resource: t.exposeString("resource") }),
});

builder.objectType(ConflictError, {
  name: "ConflictError",
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ConflictError,
  fields: () => ({}),
});

/** The errors every mutation may answer with as typed results. */
export const mutationErrors = { types: [ValidationError, NotFoundError, ConflictError] };
