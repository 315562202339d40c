-- wrk script for bench/agent_bench.py: the requests an AWS SDK makes to IMDS, from inside a pod.
-- Settings come from the environment (set by the driver):
--   BENCH_MODE   get  : GET .../security-credentials/<role> with an IMDSv2 token header, repeated
--                flow : the SDK's refresh, PUT /latest/api/token + GET the role list + GET the
--                       credentials, cycled per wrk thread (so per thread 1/3 PUTs, 2/3 GETs)
--   BENCH_ROLE   the pod's role name; BENCH_TOKEN a token fetched once beforehand (the GETs
--                carry it; the PUTs are still made and answered, as an SDK's are)
--   BENCH_DELAY_MS  if set, each connection waits this long between requests (fixed-rate runs)
-- BENCH_DELAY_MS and done(), the "BENCHJSON {...}" line, are common.lua's (next to this file).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
local mode = os.getenv("BENCH_MODE") or "get"
local role = os.getenv("BENCH_ROLE") or "role"
local token = os.getenv("BENCH_TOKEN") or ""
local base = "/latest/meta-data/iam/security-credentials/"
local get_creds, get_list, put_token
local step = 0

function init(args)
  local auth = { ["X-aws-ec2-metadata-token"] = token }
  get_creds = wrk.format("GET", base .. role, auth)
  get_list = wrk.format("GET", base, auth)
  put_token = wrk.format("PUT", "/latest/api/token",
                         { ["X-aws-ec2-metadata-token-ttl-seconds"] = "21600" }, "")
end

function request()
  if mode ~= "flow" then
    return get_creds
  end
  step = step % 3 + 1
  if step == 1 then
    return put_token
  elseif step == 2 then
    return get_list
  end
  return get_creds
end
