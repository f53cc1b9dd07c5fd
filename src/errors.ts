/** Expected failures the services raise; the GraphQL layer turns each into a typed result or coded error. */
export abstract class DomainError extends Error {
  abstract readonly code: string;
}

export type FieldIssue = { path: string; message: string };

export class ValidationError extends DomainError {
  readonly code = "VALIDATION_FAILED";
  constructor(
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
  }

  static fromZod(error: { issues: { path: PropertyKey[]; message: string }[] }, prefix = ""): ValidationError {
    const issues = error.issues.map((i) => ({
      path: [prefix, ...i.path.map(String)].filter(Boolean).join("."),
      message: i.message,
    }));
    return new ValidationError(
      `Invalid input: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ")}`,
      issues,
    );
  }
}

export class NotFoundError extends DomainError {
  readonly code = "NOT_FOUND";
  constructor(
    readonly resource: string,
    id?: string,
  ) {
    super(id ? `${resource} ${id} was not found` : `${resource} was not found`);
  }
}

export class ConflictError extends DomainError {
  readonly code = "CONFLICT";
}
