-- scenario.lua with a pause before every request: an offered load instead of a saturating one.
--
--   wrk -t1 -cC -d10s -s paced.lua URL -- REQUESTS_FILE EXPECTED_STATUSES BODY_MARK PAUSE_MS
--
-- Each connection waits PAUSE_MS before each request (wrk's delay()), so C connections offer at
-- most C * 1000 / PAUSE_MS requests/s, less the time the answers take: the caller reports the rate
-- wrk measured, not the one it asked for. (A separate script: defining delay() at all makes wrk
-- arm a timer for every request, which scenario.lua's saturating runs do not pay.)

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "scenario.lua")

local pause_ms = 0
local scenario_init = init

function init(args)
   scenario_init(args)
   pause_ms = tonumber(args[4] or "0") or 0
end

function delay()
   return pause_ms
end
