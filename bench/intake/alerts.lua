-- wrk script: POST /api/v2/alerts bodies (JSON arrays of postableAlerts), the same for
-- Alertmanager and defib. Configured by environment variables:
--   BENCH_MODE   same    the same alert in every request (identical body, Prometheus re-send)
--                unique  a new alert per item: a `seq` label that never repeats
--                service unique and also a new `service` label per item (a new incident each)
--   BENCH_BATCH  alerts per request (default 1)
--   BENCH_TOKEN  bearer token (Alertmanager ignores the header)
--   BENCH_NONCE  string that keeps labels unique across runs (default: the time)
--   BENCH_T0     epoch seconds the timestamps derive from (startsAt = T0-60, endsAt = T0+3600);
--                keep it fixed across runs so that `same` stays one alert (default: now)
--   BENCH_OUT    file to which done() writes one JSON line of results (default: stdout only)
-- done() prints a line starting with BENCH_JSON with requests, 2xx and non-2xx counts,
-- socket errors and latency percentiles in microseconds.

local mode = os.getenv("BENCH_MODE") or "same"
local batch = tonumber(os.getenv("BENCH_BATCH") or "1")
local token = os.getenv("BENCH_TOKEN") or "none"
local nonce = os.getenv("BENCH_NONCE") or tostring(os.time())
local out = os.getenv("BENCH_OUT")

local now = tonumber(os.getenv("BENCH_T0") or "") or os.time()
local starts_at = os.date("!%Y-%m-%dT%H:%M:%SZ", now - 60)
local ends_at = os.date("!%Y-%m-%dT%H:%M:%SZ", now + 3600)

-- An LLM latency alert: defib classifies it as a `performance` incident (SEV3).
local function alert(service, seq)
  local extra = ""
  if seq then
    extra = ',"seq":"' .. seq .. '"'
  end
  return '{"labels":{"alertname":"LLMHighLatencyP99","severity":"warning","service":"'
    .. service .. '","model":"gpt-4o-mini","env":"prod"' .. extra .. '},'
    .. '"annotations":{"summary":"p99 latency of ' .. service .. ' above 2s",'
    .. '"description":"LLM inference p99 latency is 3.4s (threshold 2s) for model '
    .. 'gpt-4o-mini on ' .. service .. '; responses are slow for users"},'
    .. '"startsAt":"' .. starts_at .. '","endsAt":"' .. ends_at .. '",'
    .. '"generatorURL":"http://prometheus.local:9090/graph?g0.expr=histogram_quantile'
    .. '%280.99%2C+rate%28llm_request_duration_seconds_bucket%5B5m%5D%29%29+%3E+2"}'
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", tostring(#threads + 1))
  table.insert(threads, thread)
end

local static_body = nil
local prefix = ""

function init(args)
  ok2xx = 0
  non2xx = 0
  prefix = nonce .. "-" .. tostring(tid or "0") .. "-"
  if mode == "same" then
    local items = {}
    for i = 1, batch do
      items[i] = alert("chat-api", batch > 1 and tostring(i) or nil)
    end
    static_body = "[" .. table.concat(items, ",") .. "]"
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  local body = static_body
  if body == nil then
    local items = {}
    for i = 1, batch do
      counter = counter + 1
      local seq = prefix .. counter
      if mode == "service" then
        items[i] = alert("svc-" .. seq, seq)
      else
        items[i] = alert("chat-api", seq)
      end
    end
    body = "[" .. table.concat(items, ",") .. "]"
  end
  return wrk.format("POST", "/api/v2/alerts", nil, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok2xx = ok2xx + 1
  else
    non2xx = non2xx + 1
    if non2xx <= 3 then
      io.stderr:write("non-2xx " .. status .. ": " .. string.sub(body or "", 1, 300) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, t in ipairs(threads) do
    ok = ok + (t:get("ok2xx") or 0)
    bad = bad + (t:get("non2xx") or 0)
  end
  local e = summary.errors
  local line = string.format(
    '{"requests":%d,"duration_us":%d,"ok2xx":%d,"non2xx":%d,"batch":%d,'
      .. '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}',
    summary.requests, summary.duration, ok, bad, batch,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean)
  print("BENCH_JSON " .. line)
  if out then
    local f = io.open(out, "w")
    f:write(line .. "\n")
    f:close()
  end
end
