#!/usr/bin/env python3
"""
pool_worker.py — an example pool worker in Python (stdlib only), for
`liege pool -- python3 examples/python/pool_worker.py` (SPEC §5). Its Node
twin is `examples/pool-worker.ts`; both answer the same payloads the same way.

Protocol: the first frame is {"t":"ready","pro":1}; each {"t":"req","id":n,
"payload":p} is answered {"t":"res","id":n,"ok":v} or {"t":"res","id":n,
"err":{"code","message"}}; {"t":"cancel","id":n} drops a request still
waiting and answers it err "cancelled" at once (the host discards it). Requests may be pipelined: a sleeping one does not hold up the others
(one thread, a select() loop and a timer heap, in liege.run_worker).

Payloads:
  {"op":"echo","value":v}            ok v
  {"op":"add","a":x,"b":y}           ok x + y
  {"op":"sleep","ms":n}              after n ms, ok {"slept": n} (cancelled: err "cancelled" at once)
  {"op":"fail","code":c,"message":m} err {"code": c, "message": m}
  {"op":"throw","message":m}         the handler raises an ordinary exception (a crash, not a
                                     refusal): err {"code": "internal", "message": "Boom: m"};
                                     with "ms": n it raises after n ms (in an `after` callback)
  {"op":"exit","code":n}             the process exits with code n at once, no answer
  {"op":"pid"}                       ok the process id
  {"op":"env"}                       ok {"id", "codec", "protocol", "generation"} from LIEGE_WORKER_ID,
                                     LIEGE_CODEC, LIEGE_PROTOCOL, LIEGE_GENERATION (null when unset)
  {"op":"stderr","text":s}           writes s and a newline to stderr, ok null
  {"op":"slog","text":s}             sends {"t":"slog","pri":1,"msg":s}, ok null
  {"op":"count","n":n,"ms":m,"pad":p} streams the chunks {"i": 1} … {"i": n}, each m ms after the last
                                     (default 0), with "pad": p x's when p is given, then ok
                                     {"counted": n} (a request without a stream gets the chunks as one
                                     list); a generator
  {"op":"trace"}                     ok the request's trace (its W3C traceparent, req.trace), or null
                                     without one
  anything else                      err {"code":"bad_request","message": what was wrong}
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any, Iterator

sys.dont_write_bytecode = True  # no __pycache__ left in the examples folder
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from liege import Fail, Request, connect, run_worker, slog  # noqa: E402

OPS = ("echo", "add", "sleep", "fail", "throw", "exit", "pid", "env", "stderr", "slog", "count", "trace")


class Boom(Exception):
    """An ordinary exception, named alike in both languages."""


def bad(message: str) -> Fail:
    return Fail("bad_request", message)


def is_number(v: Any) -> bool:
    """A JSON number (a bool is not one)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def need(payload: dict, name: str, kind: str) -> Any:
    """The field `name` of the payload, checked to be of `kind` (string, number, integer)."""
    op = payload["op"]
    if name not in payload:
        raise bad(f'"{op}" needs a field "{name}"')
    v = payload[name]
    ok = {
        "string": isinstance(v, str),
        "number": is_number(v) and math.isfinite(v),
        "integer": isinstance(v, int) and not isinstance(v, bool),
    }[kind]
    if not ok:
        raise bad(f'the field "{name}" of "{op}" must be a {kind}')
    return v


def count(n: int, ms: float, pad: int | None) -> Iterator[Any]:
    """`count`'s chunks, as a generator: the SDK streams them within the host's credit."""
    padding = None if pad is None else "x" * pad
    for i in range(1, n + 1):
        if ms > 0:
            time.sleep(ms / 1000)
        yield {"i": i} if padding is None else {"i": i, "pad": padding}
    return {"counted": n}


def handle(payload: Any, req: Request) -> Any:
    if not isinstance(payload, dict):
        raise bad('the payload must be an object with a string field "op"')
    op = payload.get("op")
    if not isinstance(op, str):
        raise bad('the payload must have a string field "op"')

    if op == "echo":
        if "value" not in payload:
            raise bad('"echo" needs a field "value"')
        return payload["value"]
    if op == "add":
        return need(payload, "a", "number") + need(payload, "b", "number")
    if op == "sleep":
        ms = need(payload, "ms", "number")
        if ms < 0:
            raise bad('the field "ms" of "sleep" must not be negative')
        return req.after(ms, lambda: {"slept": ms})
    if op == "fail":
        raise Fail(need(payload, "code", "string"), need(payload, "message", "string"))
    if op == "throw":
        message = need(payload, "message", "string")
        if "ms" not in payload:
            raise Boom(message)
        ms = need(payload, "ms", "number")
        if ms < 0:
            raise bad('the field "ms" of "throw" must not be negative')

        def boom() -> Any:
            raise Boom(message)

        return req.after(ms, boom)
    if op == "exit":
        code = need(payload, "code", "integer")
        if not 0 <= code <= 255:
            raise bad('the field "code" of "exit" must be between 0 and 255')
        connect().exit(code)  # answers already given still go out first
    if op == "pid":
        return os.getpid()
    if op == "env":
        return {
            "id": os.environ.get("LIEGE_WORKER_ID"),
            "codec": os.environ.get("LIEGE_CODEC"),
            "protocol": os.environ.get("LIEGE_PROTOCOL"),
            "generation": os.environ.get("LIEGE_GENERATION"),
        }
    if op == "stderr":
        text = need(payload, "text", "string")
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
        return None
    if op == "slog":
        slog(1, need(payload, "text", "string"))
        return None
    if op == "count":
        n = need(payload, "n", "integer")
        ms = need(payload, "ms", "number") if "ms" in payload else 0
        pad = need(payload, "pad", "integer") if "pad" in payload else None
        if n < 0 or ms < 0 or (pad or 0) < 0:
            raise bad('the fields of "count" must not be negative')
        return count(n, ms, pad)
    if op == "trace":
        return req.trace
    raise bad(f"unknown op {json.dumps(op, ensure_ascii=False)}: expected one of {', '.join(OPS)}")


if __name__ == "__main__":
    run_worker(handle)
