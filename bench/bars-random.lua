-- wrk script for bench/http-load.sh: every request asks GET /api/symbols/{symbol}/bars for a
-- random symbol S0000…S{n-1} and a random one-year window (365 days, both ends inclusive) inside
-- the stored range, so no two requests are likely to share a URL (or a cached response).
-- Environment (defaults match `tickerwatch bench seed`): BARS_SYMBOLS (500), BARS_FIRST_DAY and
-- BARS_LAST_DAY (first and last stored day, YYYY-MM-DD; 2010-01-04 and 2019-08-30).

local function epoch(date)
  local y, m, d = date:match("^(%d+)-(%d+)-(%d+)$")
  -- Days from civil (proleptic Gregorian), so no local time zone is involved.
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return (era * 146097 + doe - 719468) * 86400
end

local symbols = tonumber(os.getenv("BARS_SYMBOLS") or "500")
local first = epoch(os.getenv("BARS_FIRST_DAY") or "2010-01-04")
local last = epoch(os.getenv("BARS_LAST_DAY") or "2019-08-30")
local window_days = 365
local starts = math.floor((last - first) / 86400) - window_days + 1

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  math.randomseed(os.time() * 100 + (thread_id or 0))
end

function request()
  local from = first + math.random(0, starts) * 86400
  local path = string.format("/api/symbols/S%04d/bars?from=%s&to=%s", math.random(0, symbols - 1),
    os.date("!%Y-%m-%d", from), os.date("!%Y-%m-%d", from + (window_days - 1) * 86400))
  return wrk.format("GET", path)
end
