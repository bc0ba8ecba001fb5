// The one clock of the history: every created_at, started_at and finished_at is an ISO 8601 UTC string.
export function nowIso(): string {
  return new Date().toISOString()
}
