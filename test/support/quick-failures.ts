// Settings for files that watch agent runs fail and events get stranded: a run is tried twice,
// 100 ms apart, and an event no worker took is swept up within half a second, so both show
// within a test's time; the per-key rate limit stays out of the way. A file sets them in
// vi.hoisted, before any module reads the configuration.
export const QUICK_FAILURES = {
  AGENT_JOB_ATTEMPTS: "2",
  AGENT_RETRY_DELAY_MS: "100",
  DISPATCH_SWEEP_INTERVAL_MS: "200",
  DISPATCH_SWEEP_AGE_MS: "300",
  RATE_LIMIT_MAX: "100000",
};
