-- Shared by the wrk scripts in this folder (loaded with dofile by each): BENCH_DELAY_MS, and
-- done(), which prints one line "BENCHJSON {...}" with the counts and latency percentiles in µs,
-- including p99.9, which wrk's --latency table does not show (parsed by bench/bench_common.py).
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")

if delay_ms then
  -- each connection waits this long between requests (fixed-rate runs)
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
