-- wrk script of the HTTP benchmark (bench/throughput): one scenario, its requests read from a file.
--
--   wrk -t1 -c32 -d10s -s scenario.lua http://127.0.0.1:PORT -- REQUESTS_FILE EXPECTED_STATUSES [BODY_MARK]
--
-- REQUESTS_FILE: one request per line, "METHOD PATH" or "METHOD PATH JSON-BODY"; the lines are
-- formatted once in init() and cycled through (each thread starts at its own offset).
-- EXPECTED_STATUSES: e.g. "200" or "200,206"; any other status is counted as unexpected.
-- BODY_MARK: optional text every expected response body must contain (e.g. '"priority"' for a
-- recommendation); a body without it is counted as unexpected, under the key "<status>-unmarked".
-- done() prints one line "WRK_JSON {...}": requests, duration, socket errors, unexpected statuses
-- (summed over threads) and latency percentiles in microseconds.

local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

requests = {}
expected = {}
unexpected = 0
unexpected_statuses = {}
counter = 0

body_mark = nil

function init(args)
   local path, codes = args[1], args[2] or "200"
   if args[3] and args[3] ~= "" then
      body_mark = args[3]
   end
   for code in string.gmatch(codes, "%d+") do
      expected[tonumber(code)] = true
   end
   for line in io.lines(path) do
      local method, target, body = string.match(line, "^(%u+) (%S+) ?(.*)$")
      if method then
         if body == "" then
            table.insert(requests, wrk.format(method, target))
         else
            local headers = {["Content-Type"] = "application/json"}
            table.insert(requests, wrk.format(method, target, headers, body))
         end
      end
   end
   if #requests == 0 then
      error("no requests in " .. tostring(path))
   end
   counter = (thread_index or 0) * 7919 % #requests
end

function request()
   counter = counter % #requests + 1
   return requests[counter]
end

function response(status, headers, body)
   local key = nil
   if not expected[status] then
      key = tostring(status)
   elseif body_mark and not string.find(body or "", body_mark, 1, true) then
      key = tostring(status) .. "-unmarked"
   end
   if key then
      unexpected = unexpected + 1
      unexpected_statuses[key] = (unexpected_statuses[key] or 0) + 1
   end
end

function done(summary, latency, requests)
   local bad, by_status = 0, {}
   for _, thread in ipairs(threads) do
      bad = bad + (thread:get("unexpected") or 0)
      for key, n in pairs(thread:get("unexpected_statuses") or {}) do
         by_status[key] = (by_status[key] or 0) + n
      end
   end
   local statuses = {}
   for key, n in pairs(by_status) do
      table.insert(statuses, string.format('"%s":%d', key, n))
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests":%d,"durationUs":%d,"bytes":%d,' ..
      '"socketErrors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"httpErrors":%d,' ..
      '"unexpected":%d,"unexpectedStatuses":{%s},' ..
      '"latencyUs":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.timeout, e.status,
      bad, table.concat(statuses, ","),
      latency.min, latency.mean, latency.max,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
