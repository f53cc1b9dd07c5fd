/** Relay global ids, as the API encodes them. */
export function toGlobalId(type: string, id: string): string {
  return Buffer.from(`${type}:${id}`).toString("base64");
}

export function fromGlobalId(globalId: string): { type: string; id: string } {
  const [type, id] = Buffer.from(globalId, "base64").toString().split(":");
  return { type, id };
}
