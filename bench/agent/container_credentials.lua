-- wrk script for bench/container_credentials_bench.py: what an SDK sends to the
-- container-credentials endpoint (GET /v1/credentials, Host 169.254.170.23, Authorization: the
-- pod's raw ServiceAccount token), from inside a pod, repeated.
--   BENCH_TOKEN     the token; BENCH_DELAY_MS  if set, each connection waits this long between
--                   requests (fixed-rate runs)
-- done() prints one line "BENCHJSON {...}" with the counts and latency percentiles in µs.
local token = os.getenv("BENCH_TOKEN") or ""
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
local req

function init(args)
  req = wrk.format("GET", "/v1/credentials",
                   { ["Host"] = "169.254.170.23", ["Authorization"] = token })
end

function request()
  return req
end

if delay_ms then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,' ..
    '"mean":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
