-- wrk script of the load drill (drills/load_test.go, docs/RELIABILITY.md):
-- a mix of one-click unsubscribes, sign-ups and archive pages.
--   wrk -t2 -c16 -d30s -s scripts/load.lua http://127.0.0.1:PORT -- TOKENS_FILE PAGES_FILE 2
-- TOKENS_FILE has one unsubscribe token a line, PAGES_FILE one archive
-- path a line; the last argument is wrk's -t. Thread i of T posts tokens
-- i, i+T, i+2T... in turn. At the end one JSON line is printed,
-- starting with "LOAD ".

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function lines(path)
  local out = {}
  for l in io.lines(path) do
    if l ~= "" then table.insert(out, l) end
  end
  return out
end

function init(args)
  tokens = lines(args[1])
  pages = lines(args[2])
  nthreads = tonumber(args[3])
  n = 0
  unsubs = 0
  signups = 0
  s5xx = 0
  s4xx = 0
  status429 = 0
end

function request()
  n = n + 1
  local kind = n % 4
  if kind == 0 then
    -- one-click unsubscribe (RFC 8058), as a mail provider sends it
    local i = id + 1 + (unsubs % math.ceil(#tokens / nthreads)) * nthreads
    unsubs = unsubs + 1
    if i > #tokens then i = id + 1 end
    return wrk.format("POST", "/unsubscribe/" .. tokens[i],
      {["Content-Type"] = "application/x-www-form-urlencoded"}, "List-Unsubscribe=One-Click")
  elseif kind == 1 then
    signups = signups + 1
    local body = "email=load-" .. id .. "-" .. signups .. "%40example.com&name=Load&timezone=UTC"
    return wrk.format("POST", "/subscribe", {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
  elseif kind == 2 then
    return wrk.format("GET", "/subscribe")
  else
    return wrk.format("GET", pages[1 + (n % #pages)])
  end
end

function response(status, headers, body)
  if status >= 500 then
    s5xx = s5xx + 1
  elseif status == 429 then
    status429 = status429 + 1
  elseif status >= 400 then
    s4xx = s4xx + 1
  end
end

function done(summary, latency, requests)
  local t5, t4, t429, u = 0, 0, 0, {}
  for _, th in ipairs(threads) do
    t5 = t5 + th:get("s5xx")
    t4 = t4 + th:get("s4xx")
    t429 = t429 + th:get("status429")
    table.insert(u, th:get("id") .. ":" .. th:get("unsubs"))
  end
  local e = summary.errors
  io.write(string.format(
    'LOAD {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"s5xx":%d,"s4xx":%d,"s429":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"threads":%d,"unsubs":"%s"}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    t5, t4, t429, e.connect, e.read, e.write, e.timeout, #threads, table.concat(u, ",")))
end
