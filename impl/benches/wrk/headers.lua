-- wrk script of impl/benches/wrk.sh: sends each pre-generated Authorization header once, in
-- order (HEADERS names the file, PATH the request path). Requests are built at start-up, so
-- the per-request cost in wrk is one table lookup. Running out wraps around (the server then
-- refuses replays: wrk counts them as non-2xx).
local requests = {}
local i = 0

function init(args)
  local path = os.getenv("WRK_PATH") or "/v1/subject"
  for line in io.lines(os.getenv("WRK_HEADERS")) do
    requests[#requests + 1] = wrk.format("GET", path, { ["Authorization"] = line })
  end
end

function request()
  i = i + 1
  if i > #requests then
    i = 1
  end
  return requests[i]
end
