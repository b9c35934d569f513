-- One wrk script for every scenario of bench/run, steered by environment
-- variables (wrk passes no per-run data to its threads otherwise).
--
--   BENCH_MODE     ping | status | confirm | send | resend | mixed | walk |
--                  probe |
--                  raw (BENCH_BODY as BENCH_CTYPE to the URL, as it is) |
--                  get (GET the URL, with BENCH_COOKIE if set) |
--                  login (POST the URL: the account of a set's phone)
--   BENCH_THREADS  wrk's -t (each thread takes its own share of the work)
--   BENCH_SET      phone set, 1..9: phones are 010-S###-####, a set's
--                  i-th phone being bench_phone(S, i) below (bench/run
--                  computes the same numbers when it seeds)
--   BENCH_PHONES   confirm, mixed: how many phones of the set to cycle over
--   BENCH_START    send: the first index of the set to use; confirm,
--                  resend, login, mixed: the cycled phones' first
--   BENCH_QUOTA    mixed: responses per thread, then the thread stops
--   BENCH_FILE     walk: one request body per line, each sent exactly once
--   BENCH_OUT      walk, mixed: a directory; thread N writes done.N once
--                  its share is answered (then bench/run stops wrk), and
--                  in walk mode, with BENCH_RECORD=1, "status<TAB>body"
--                  per answer to out.N
--   BENCH_DELAY_MS probe: the pause before each request
--   BENCH_EXPECT   the status every answer should have (not in mixed)
--   BENCH_COOKIE   get: the Cookie header of every request
--   BENCH_TAG      login: the accounts are b<phone>.<tag>@example.com for
--                  the set's first BENCH_PHONES phones (bench/run's
--                  make_tokens), cycled over
--   BENCH_PASSWORD login: the password sent
--
-- done() prints one line "BENCH_RESULT key=value ..." that bench/run reads.

local ffi = require("ffi")

ffi.cdef [[
    typedef struct { long sec; long nsec; } bench_timespec_t;
    int clock_gettime(int clk, bench_timespec_t *tp);
]]

local ts = ffi.new("bench_timespec_t")

local function now_us()
    ffi.C.clock_gettime(1, ts)           -- CLOCK_MONOTONIC
    return tonumber(ts.sec) * 1000000 + math.floor(tonumber(ts.nsec) / 1000)
end

local mode     = os.getenv("BENCH_MODE") or "ping"
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local set      = tonumber(os.getenv("BENCH_SET") or "1")
local nphones  = tonumber(os.getenv("BENCH_PHONES") or "10000")
local first    = tonumber(os.getenv("BENCH_START") or "0")
local quota    = tonumber(os.getenv("BENCH_QUOTA") or "0")
local file     = os.getenv("BENCH_FILE")
local outdir   = os.getenv("BENCH_OUT")
local record   = os.getenv("BENCH_RECORD") == "1"
local pause    = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local expect   = tonumber(os.getenv("BENCH_EXPECT") or "200")

local json = { ["Content-Type"] = "application/json" }
local raw_body = os.getenv("BENCH_BODY")
local raw_headers = { ["Content-Type"] = os.getenv("BENCH_CTYPE") }
local cookie = os.getenv("BENCH_COOKIE")
local get_headers = cookie and { ["Cookie"] = cookie } or {}
local tag = os.getenv("BENCH_TAG") or ""
local password = os.getenv("BENCH_PASSWORD") or ""

-- a permutation of 0..9999999 (1234577 is prime to 10^7): phones spread
-- over the key space as real ones do, not in one B-tree corner
function bench_phone(s, i)
    return string.format("010%d%07d", s, (i * 1234577) % 10000000)
end

-- setup(): runs in the main Lua state, before each thread starts

local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("id", #threads)
end

-- per thread state; read back by done() through thread:get()

statuses   = {}         -- status -> count
unexpected = 0          -- answers other than expected
min_left   = 1000       -- confirm: the least attemptsLeft seen (-1: none)
t_first    = 0          -- monotonic us of the first request
t_last     = 0          -- and of the last answer
answered   = 0
finished   = 0          -- walk: this thread's share is answered

local n = 0             -- requests made by this thread
local items             -- walk: this thread's bodies
local taken = 0         -- walk: items promised to a connection
local out               -- walk: output file
local queue, qhead, qtail = {}, 1, 0   -- walk: items promised, not sent

local function phone_of_confirm(k)
    return bench_phone(set, first + k % nphones)
end

function init(args)
    -- threads start spread over the phones, and walk them in step
    n = math.floor((id - 1) * nphones / nthreads)

    if mode == "walk" then
        items = {}
        local i = 0
        for line in io.lines(file) do
            if i % nthreads == id - 1 and line ~= "" then
                items[#items + 1] = line
            end
            i = i + 1
        end
        if outdir and record then
            out = io.open(outdir .. "/out." .. id, "w")
        end
        if #items == 0 and outdir then
            -- nothing to send: done at once (its connections wait in delay())
            finished = 1
            io.open(outdir .. "/done." .. id, "w"):close()
        end
    end
end

local function track()
    if t_first == 0 then
        t_first = now_us()
    end
end

local send_next = 0

local function send_phone()
    send_next = send_next + 1
    -- a million indices per thread: every send goes to a new phone
    return bench_phone(set, first + (id - 1) * 1000000 + send_next)
end

-- twenty requests: status, an operator's endpoint, is the rare one (each
-- answer reads every pending code, see bench/README.md)
local mixed_kinds = {
    "confirm", "send", "ping", "confirm", "signup", "send", "ping",
    "confirm", "badjson", "send", "ping", "confirm", "signup", "send",
    "ping", "confirm", "badjson", "confirm", "ping", "status",
}
local mixed_paths = {
    confirm = "/sms/verification/confirm", send = "/sms/verification",
    status = "/smsverify/status", ping = "/ping",
    signup = "/members/signup", badjson = "/sms/verification",
}

-- what the mix expects: confirm 400 CODE_MISMATCH, send 200, ping 200,
-- signup 403 PHONE_NOT_VERIFIED, bad JSON 400, status 200.  wrk does not
-- tell response() which request an answer is for, so each answer is checked
-- against the set; a 404 (a burnt code), 5xx or 429 counts as unexpected.
local mixed_ok = { [200] = true, [400] = true, [403] = true }

function request()
    if mode ~= "walk" then
        track()
    end
    n = n + 1

    if mode == "ping" then
        return wrk.format("GET", "/ping?n=" .. n)

    elseif mode == "probe" then
        return wrk.format("GET", "/ping")

    elseif mode == "raw" then
        return wrk.format("POST", nil, raw_headers, raw_body)

    elseif mode == "get" then
        return wrk.format("GET", nil, get_headers)

    elseif mode == "login" then
        -- the threads' accounts interleave, so that failed logins spread
        -- over every account (each has its own smsverify_login_limit)
        return wrk.format("POST", nil, json,
            '{"email":"b' .. phone_of_confirm(n) .. '.' .. tag
            .. '@example.com","password":"' .. password .. '"}')

    elseif mode == "status" then
        return wrk.format("GET", "/smsverify/status")

    elseif mode == "confirm" then
        -- 7 digits against a 6-digit code: always a wrong guess, so every
        -- request takes the counting path and no code is ever used up
        return wrk.format("POST", nil, json,
            '{"phoneNumber":"' .. phone_of_confirm(n)
            .. '","verificationNumber":"0000000"}')

    elseif mode == "send" then
        return wrk.format("POST", nil, json,
            '{"phoneNumber":"' .. send_phone() .. '"}')

    elseif mode == "resend" then
        -- the cycled phones again: each got a code just before
        return wrk.format("POST", nil, json,
            '{"phoneNumber":"' .. phone_of_confirm(n) .. '"}')

    elseif mode == "walk" then
        -- the item delay() promised to this connection; none when wrk
        -- calls request() once to check the script, before any thread
        -- runs: that request is never sent, so it must not use an item
        if qhead > qtail then
            return wrk.format("GET", "/ping")
        end
        track()
        local body = items[queue[qhead]]
        queue[qhead] = nil
        qhead = qhead + 1
        return wrk.format("POST", nil, json, body)

    elseif mode == "mixed" then
        local kind = mixed_kinds[(n % #mixed_kinds) + 1]
        local path = mixed_paths[kind]
        if kind == "confirm" then
            return wrk.format("POST", path, json,
                '{"phoneNumber":"' .. phone_of_confirm(n)
                .. '","verificationNumber":"0000000"}')
        elseif kind == "send" then
            -- the confirm phones again: their records exist already, so
            -- the store does not grow and RSS shows what the module keeps
            return wrk.format("POST", path, json,
                '{"phoneNumber":"' .. phone_of_confirm(n * 7 + 3) .. '"}')
        elseif kind == "signup" then
            return wrk.format("POST", path, json,
                '{"email":"m' .. n .. '@example.com","password":"Passw0rd!",'
                .. '"nickname":"bench","phoneNumber":"'
                .. phone_of_confirm(n) .. '","termsId":[1,2],'
                .. '"verificationToken":"' .. string.rep("A", 43) .. '"}')
        elseif kind == "badjson" then
            return wrk.format("POST", path, json, '{"phoneNumber":')
        else
            return wrk.format("GET", path)
        end
    end
end

if mode == "walk" then
    -- hold a connection back (an hour: bench/run stops wrk long before)
    -- once its thread's share is promised, so nothing else is sent
    function delay()
        if taken < #items then
            taken = taken + 1
            qtail = qtail + 1
            queue[qtail] = taken
            return 0
        end
        return 3600000
    end

elseif mode == "probe" then
    function delay()
        return pause
    end
end

local function finish()
    if finished == 1 then
        return
    end
    finished = 1
    if out then
        out:close()
        out = nil
    end
    if outdir then
        io.open(outdir .. "/done." .. id, "w"):close()
    end
    wrk.thread:stop()
end

function response(status, headers, body)
    answered = answered + 1
    t_last = now_us()
    statuses[status] = (statuses[status] or 0) + 1

    if mode == "mixed" then
        if not mixed_ok[status] then
            unexpected = unexpected + 1
        end
        if quota > 0 and answered >= quota then
            finish()
        end
        return
    end

    if status ~= expect then
        unexpected = unexpected + 1
    end

    if mode == "confirm" and expect == 400 then
        local left = body and body:match('"attemptsLeft":(%d+)')
        if left then
            left = tonumber(left)
            if left < min_left then
                min_left = left
            end
        elseif status == expect then
            unexpected = unexpected + 1
        end

    elseif mode == "walk" then
        if out then
            out:write(status, "\t", (body or ""):gsub("[\r\n]", " "), "\n")
        end
        if answered >= #items then
            finish()
        end
    end
end

function done(summary, latency, requests)
    local st, unexp, left, tf, tl, ans = {}, 0, 1000, nil, 0, 0

    for _, t in ipairs(threads) do
        for k, v in pairs(t:get("statuses") or {}) do
            st[k] = (st[k] or 0) + v
        end
        unexp = unexp + (t:get("unexpected") or 0)
        ans = ans + (t:get("answered") or 0)
        local l = t:get("min_left") or 1000
        if l < left then left = l end
        local f = t:get("t_first") or 0
        if f > 0 and (tf == nil or f < tf) then tf = f end
        local e = t:get("t_last") or 0
        if e > tl then tl = e end
    end

    local codes = {}
    for k, v in pairs(st) do
        codes[#codes + 1] = k .. ":" .. v
    end
    table.sort(codes)

    local e = summary.errors
    io.write(string.format(
        "BENCH_RESULT requests=%d duration_us=%d answered=%d active_us=%d "
        .. "connect=%d read=%d write=%d timeout=%d status_errors=%d "
        .. "unexpected=%d min_attempts_left=%d p50_us=%d p99_us=%d "
        .. "max_us=%d mean_us=%.1f statuses=%s\n",
        summary.requests, summary.duration, ans,
        (tf and tl > tf) and (tl - tf) or 0,
        e.connect, e.read, e.write, e.timeout, e.status, unexp,
        left == 1000 and -1 or left,
        latency:percentile(50), latency:percentile(99), latency.max,
        latency.mean, table.concat(codes, ",")))
end
