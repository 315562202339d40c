-- wrk script for bench/container_credentials_bench.py: what an SDK sends to the
-- container-credentials endpoint (GET /v1/credentials, Host 169.254.170.23, Authorization: the
-- pod's raw ServiceAccount token), from inside a pod, repeated.
--   BENCH_TOKEN     the token; BENCH_DELAY_MS  if set, each connection waits this long between
--                   requests (fixed-rate runs)
-- BENCH_DELAY_MS and done(), the "BENCHJSON {...}" line, are common.lua's (next to this file).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
local token = os.getenv("BENCH_TOKEN") or ""
local req

function init(args)
  req = wrk.format("GET", "/v1/credentials",
                   { ["Host"] = "169.254.170.23", ["Authorization"] = token })
end

function request()
  return req
end
