#!/usr/bin/python3
"""t/mock/sms_mock.py as bench/run uses it: the same SENS and Cafe24 mock,
same options and control API, with two socket settings fit for load.

- TCP_NODELAY on accepted connections.  http.server writes the status
  line and headers, then the body, in two send()s; with Nagle on, the body
  waits for the ACK of the headers, which the client (libcurl) delays by
  up to 40 ms: every answer would take ~40 ms and the "send" figure would
  measure Linux's delayed-ACK timer (about 1,100 sends/s with 64 pool
  threads) instead of the module.
- A listen backlog of 1024 instead of socketserver's 5, so that the pool
  threads of both workers can connect at once without SYN retries (1 s).

Run it as the mock itself: bench/mock.py --port 0 [...] prints
"ready <port>".
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "t", "mock"))
sys.dont_write_bytecode = True          # no __pycache__ in t/mock

import sms_mock  # noqa: E402

sms_mock.Handler.disable_nagle_algorithm = True
sms_mock.ThreadingHTTPServer.request_queue_size = 1024

if __name__ == "__main__":
    sys.exit(sms_mock.main())
