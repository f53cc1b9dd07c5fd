export const DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/closer";

/** The database URL the CLI, scripts and processes share. */
export function databaseUrl(): string {
  return process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
}
