-- wrk script of bench/writes.py: POSTs a file of requests, one "path<TAB>body" a line.
--
--   wrk -t 2 -c 8 -d 5s -s bench/posts.lua -H "Cookie: ..." http://127.0.0.1:8765 \
--       -- requests.tsv 2 once
--
-- "once": each line at most once (a booking or a record is made once): each thread sends
-- its own share of the lines, in order. A thread that runs out stops and says so, since
-- its idle time would count against the throughput. (wrk calls request() once before the
-- run to check it: the first thread's first line is never sent.)
-- "cycle": every thread sends all lines round and round (the reference page).
-- Prints the count of each status, and of requests that got no answer.

local threads = {}

function setup(thread)
  thread:set("number", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path, thread_count = args[1], tonumber(args[2])
  cycle = args[3] == "cycle"
  mine, sent, exhausted, statuses = {}, 0, 0, {}
  local lines = {}
  for line in io.lines(path) do
    local tab = line:find("\t", 1, true)
    table.insert(lines, { line:sub(1, tab - 1), line:sub(tab + 1) })
  end
  local share = math.ceil(#lines / thread_count)
  local first, last = number * share + 1, math.min(#lines, (number + 1) * share)
  if cycle then
    first, last = 1, #lines
  end
  for index = first, last do
    table.insert(mine, lines[index])
  end
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  if sent >= #mine and not cycle then
    exhausted = 1
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  local item = mine[sent % #mine + 1]
  sent = sent + 1
  return wrk.format("POST", item[1], nil, item[2])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals, exhausted_threads = {}, 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
    exhausted_threads = exhausted_threads + thread:get("exhausted")
  end
  for status, count in pairs(totals) do
    io.write(string.format("STATUS %d %d\n", status, count))
  end
  io.write(string.format("EXHAUSTED %d\n", exhausted_threads))
  local errors = summary.errors
  io.write(string.format("BENCH %d %f %f %f %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95),
    errors.connect + errors.read + errors.write + errors.timeout))
end
