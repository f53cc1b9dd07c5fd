import { NotFoundError } from "../errors.js";
import type { RequestContext } from "./context.js";
import { unauthenticated } from "./errors.js";

// Another creator's object answers exactly as an unknown one: loading by id finds only the rows
// the key may see, and operations on a row refused by scope answer the NotFoundError an unknown
// id gets. No answer tells a creator that an id exists elsewhere.

/** The viewer's creator when it is confined to one (creator and ingest keys); null for admin keys. */
function confinedTo(ctx: RequestContext): string | null {
  const viewer = ctx.viewer;
  return viewer && viewer.kind !== "ADMIN" ? (viewer.creatorId as string) : null;
}

/** `findUnique` for a prismaNode of a creator-owned model: another creator's id finds nothing. */
export function ownRowById(id: string, ctx: RequestContext): { id: string; creatorId?: string } {
  const creatorId = confinedTo(ctx);
  return creatorId ? { id, creatorId } : { id };
}

/** The same for the creators table itself. */
export function ownCreatorById(id: string, ctx: RequestContext): { id: string; AND?: { id: string }[] } {
  const creatorId = confinedTo(ctx);
  return creatorId ? { id, AND: [{ id: creatorId }] } : { id };
}

/** A where fragment of the creators the viewer may see. */
export function ownCreatorFilter(ctx: RequestContext): { id?: string } {
  const creatorId = confinedTo(ctx);
  return creatorId ? { id: creatorId } : {};
}

/** A where fragment of the rows the viewer may see in a creator-owned table. */
export function visibleRows(ctx: RequestContext): { creatorId?: string } {
  const creatorId = confinedTo(ctx);
  return creatorId ? { creatorId } : {};
}

/**
 * `unauthorizedResolver` of an operation on one row (cancelAction, pauseAgent...): refused by
 * scope (the row is another creator's), it answers the NotFoundError an unknown id gets; without
 * a key, UNAUTHENTICATED as everywhere.
 */
export function notFoundWhenRefused(resource: string, idOf: (args: never) => string) {
  return (_parent: unknown, args: unknown, ctx: RequestContext) => {
    if (!ctx.viewer) throw unauthenticated();
    // The errors plugin answers an error instance as its typed result (the field's union); the
    // field's own type cannot say so, hence the cast.
    return new NotFoundError(resource, idOf(args as never)) as never;
  };
}
