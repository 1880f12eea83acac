-- wrk script of impl/benches/wrk.sh: sends each pre-generated Authorization header once, in
-- order (WRK_HEADERS names the file, WRK_PATH the request path; without WRK_HEADERS, a plain
-- GET). Requests are built at start-up, so the per-request cost in wrk is one table lookup.
-- Running out wraps around (the server then refuses replays: wrk counts them as non-2xx).
-- WRK_RATE (with WRK_CONNECTIONS) paces the load: each connection waits
-- connections / rate before each request, so the whole run offers about WRK_RATE req/s (a bit
-- less: the wait comes on top of each response's latency; the measured rate is reported).
local requests = {}
local i = 0

function init(args)
  local path = os.getenv("WRK_PATH") or "/v1/subject"
  local headers = os.getenv("WRK_HEADERS")
  if headers then
    for line in io.lines(headers) do
      requests[#requests + 1] = wrk.format("GET", path, { ["Authorization"] = line })
    end
  else
    requests[1] = wrk.format("GET", path)
  end
end

local rate = tonumber(os.getenv("WRK_RATE") or "")
if rate then
  local wait_ms = 1000 * tonumber(os.getenv("WRK_CONNECTIONS") or "1") / rate
  function delay()
    return wait_ms
  end
end

function request()
  i = i + 1
  if i > #requests then
    i = 1
  end
  return requests[i]
end
