#!/usr/bin/python3
"""Where nginx's workers spend their CPU, by what the module does.

    bench/perf_breakdown.py PERF.DATA

PERF.DATA is a `perf record --call-graph dwarf -p WORKER,...` of nginx's
workers (bench/run --perf makes one per table row).  Each sample goes to
the first bucket below that one of its stack frames names; the buckets go
from the pool threads' work to the event loop's, so a sample is counted
once, by its most specific cause.
"""

import collections
import subprocess
import sys

BUCKETS = [
    ("provider: libcurl transfer (curl_easy_perform)", ["curl_easy_perform"]),
    ("provider: libcurl set-up (reset, setopt, headers)", ["sv_http_post"]),
    ("provider: request body, signature, answer check",
     ["sv_provider_sens_send", "sv_provider_cafe24_send", "sv_sens_",
      "sv_cafe24_"]),
    ("member record from JSON (sv_member_decode: cJSON)",
     ["sv_member_decode"]),
    ("store: mdb_txn_commit", ["mdb_txn_commit"]),
    ("store: read-only transactions (begin, get, reset)", ["sv_read"]),
    ("store: the rest of a write transaction", ["sv_write", "sv_store_"]),
    ("bcrypt", ["sv_password_hash", "crypt_r"]),
    ("HMAC and random bytes (codes, tokens)",
     ["sv_code_hash", "sv_code_generate", "sv_token_generate",
      "sv_token_hash", "sv_session_hash"]),
    ("pool threads: sleeping and waking (cond, mutex)",
     ["ngx_thread_cond_wait", "ngx_thread_mutex_lock",
      "ngx_thread_pool_cycle"]),
    ("event loop: posting a task (wakes a pool thread)",
     ["ngx_thread_task_post"]),
    ("event loop: task done, the answer written",
     ["ngx_http_smsverify_task_event", "ngx_thread_pool_handler"]),
    ("event loop: status", ["ngx_http_smsverify_status"]),
    ("event loop: body to JSON, validation",
     ["ngx_http_smsverify_parse_body", "sv_json_parse_object",
      "ngx_http_smsverify_read_phone"]),
    ("event loop: return (the stub provider, /ping)",
     ["ngx_http_script_return_code"]),
    ("event loop: writing answers", ["ngx_writev", "ngx_http_write_filter"]),
    ("event loop: smsverify_auth, the rest (cookie, variables, 401 body)",
     ["ngx_http_smsverify_auth", "ngx_http_smsverify_lookup"]),
    ("event loop: static file (open, fstat, read, close)",
     ["ngx_http_static_handler", "ngx_open_cached_file"]),
    ("event loop: reading requests",
     ["ngx_http_wait_request_handler", "ngx_http_process_request",
      "ngx_http_read_client_request_body", "ngx_http_keepalive_handler",
      "ngx_http_set_keepalive"]),
    ("event loop: epoll, accept, timers", ["ngx_process_events_and_timers"]),
]


def samples(data):
    out = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym"],
                         capture_output=True, text=True).stdout
    frames = []
    for line in out.splitlines():
        line = line.strip()
        if not line:
            if frames:
                yield frames
            frames = []
            continue
        parts = line.split(None, 1)
        frames.append(parts[1] if len(parts) == 2 else parts[0])
    if frames:
        yield frames


def breakdown(data):
    counts = collections.Counter()
    total = 0
    for frames in samples(data):
        total += 1
        for label, keys in BUCKETS:
            if any(k in f for f in frames for k in keys):
                counts[label] += 1
                break
        else:
            counts["elsewhere (kernel, libc, nginx core)"] += 1
    lines = ["%5.1f%%  %s" % (100.0 * n / total, label)
             for label, n in counts.most_common()] if total else []
    lines.append("(%d samples)" % total)
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(breakdown(sys.argv[1]))
