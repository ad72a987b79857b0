-- wrk script: POST the same GraphQL request over and over.
--
--   BENCH_BODY=q1.json BENCH_TOKEN=tg_... wrk -s post.lua URL
--
-- BENCH_BODY is the file holding the JSON body ({"query": ...});
-- BENCH_TOKEN, when set, is sent as "Authorization: Bearer <token>".
-- At the end it prints "Failed answers: N": answers that were not 200 or
-- carried GraphQL errors (a server out of database connections answers
-- 200 with errors), so that run.sh can tell a clean run from a broken one.

local function slurp(path)
  local f = assert(io.open(path, "rb"), "cannot open BENCH_BODY " .. tostring(path))
  local s = f:read("*a")
  f:close()
  return s
end

wrk.method = "POST"
wrk.body = slurp(os.getenv("BENCH_BODY"))
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"

local token = os.getenv("BENCH_TOKEN")
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

-- Every thread has its own Lua state: each counts its failures in the
-- global `failed`, and done() (run in the main state) adds them up.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  failed = 0
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do
    n = n + t:get("failed")
  end
  io.write(string.format("Failed answers: %d\n", n))
end
