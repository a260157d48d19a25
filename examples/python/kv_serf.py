#!/usr/bin/env python3
"""
kv_serf.py — the key-value serf in Python (stdlib only), the exact twin of
`examples/kv-serf.ts`: a map of JSON values, with real snapshots in the pier
folder. Both pass `test/serf/conformance.test.ts`.

Events:   {"op":"put","key":k,"value":v}   effects [{"key":k,"old":previous or null}]
          {"op":"del","key":k}             effects [{"key":k,"old":previous or null}]
          {"op":"incr","key":k,"by":n}     effects [{"key":k,"value":new value}]
          anything else is refused (work-bail)
          {"op":"crash"}                   refused, but swapped for {"op":"crashed"} (counts crashes)
          {"op":"trace"}                   changes nothing; effects [{"trace": the writ's W3C
                                           traceparent, or null}] (never part of the state: a
                                           replayed event has no trace)
Peeks:    ["get",k] → value or null;  ["size"] → n;  ["keys"] → sorted keys
Mug:      XOR over entries of FNV-1a-32(canonical JSON of [k, v]) — the same
          state gives the same mug whatever the history, in either language.
Snapshot: $LIEGE_PIER/kv-snapshot.json, written atomically on `save`.

To give the Node serf's bytes exactly, this file writes JSON the way
JavaScript does (`js_json`): numbers as JavaScript prints them (42.0 → 42,
1e21 → 1e+21, 1e-7 → 1e-7, NaN → null), strings escaped as JSON.stringify
escapes them, keys sorted by UTF-16 code units for the canonical form, and
object keys in JavaScript's own order for the snapshot. Numbers follow
JavaScript's arithmetic too (a sum beyond 2^53 is rounded to a double).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from typing import Any

sys.dont_write_bytecode = True  # no __pycache__ left in the examples folder
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from liege import PokeContext, run_serf  # noqa: E402

MISSING: Any = object()  # JavaScript's `undefined`: a field that is not there

entries: dict[str, Any] = {}
mug = 0


# ── JSON as JavaScript writes it ─────────────────────────────────────────────

SAFE_INTEGER = 2**53
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_ARRAY_INDEX = re.compile(r"^(?:0|[1-9][0-9]*)$")


def is_number(v: Any) -> bool:
    """JavaScript's `typeof v === "number"` (a bool is not a number)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def js_add(a: int | float, b: int | float) -> int | float:
    """a + b as JavaScript computes it (exact below 2^53, one rounding above)."""
    if any(isinstance(x, int) and abs(x) > SAFE_INTEGER for x in (a, b)):
        return _double(a) + _double(b)
    s = a + b
    if isinstance(s, int) and abs(s) > SAFE_INTEGER:
        return _double(a) + _double(b)
    return s


def _double(x: int | float) -> float:
    """x as a JavaScript number (the nearest double; ±Infinity beyond the range)."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def js_number(x: int | float) -> str:
    """A number as JSON.stringify writes it (ECMAScript Number::toString)."""
    if isinstance(x, int):
        if -SAFE_INTEGER <= x <= SAFE_INTEGER:
            return str(x)
        try:
            x = float(x)
        except OverflowError:
            return "null"
    if not math.isfinite(x):
        return "null"
    if x == 0:
        return "0"
    if x < 0:
        return "-" + js_number(-x)
    # repr gives the shortest digits that round-trip, as JavaScript does;
    # only where the decimal point and the exponent go differs.
    mantissa, _, exponent = repr(x).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    n = len(whole) + (int(exponent) if exponent else 0)  # value = 0.digits × 10^n
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return f"{digits[:n]}.{digits[n:]}"
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    if k == 1:
        return f"{digits}e{sign}{abs(e)}"
    return f"{digits[0]}.{digits[1:]}e{sign}{abs(e)}"


def js_string(s: str) -> str:
    """A string as JSON.stringify writes it (lone surrogates escaped, the rest raw)."""
    text = json.dumps(s, ensure_ascii=False)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def js_key(k: Any) -> str:
    """A map key as JavaScript holds it: always a string."""
    if isinstance(k, str):
        return k
    if k is None or isinstance(k, bool):
        return json.dumps(k)
    if is_number(k):
        return js_number(k)
    return str(k)


def utf16(s: str) -> bytes:
    """A sort key that orders strings as JavaScript's sort() does (by UTF-16 code units)."""
    return s.encode("utf-16-be", "surrogatepass")


def js_key_order(keys: list[str]) -> list[str]:
    """The order of Object.keys: array indices ascending, then the rest as inserted."""
    index = [k for k in keys if _ARRAY_INDEX.match(k) and int(k) < 2**32 - 1]
    if not index:
        return keys
    seen = set(index)
    return sorted(index, key=int) + [k for k in keys if k not in seen]


def js_json(v: Any, canonical: bool = False) -> str:
    """
    JSON.stringify(v) when `canonical` is False; the kv serf's `canonical(v)`
    (object keys sorted) when it is True. MISSING gives "undefined".
    """
    if v is MISSING:
        return "undefined"
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if is_number(v):
        return js_number(v)
    if isinstance(v, str):
        return js_string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(js_json(x, canonical) for x in v) + "]"
    if isinstance(v, (bytes, bytearray)):
        # A Node Buffer (what msgpack `bin` decodes to there): canonical() sees
        # an object keyed by index, JSON.stringify calls its toJSON.
        if canonical:
            return js_json({str(i): b for i, b in enumerate(v)}, True)
        return js_json({"type": "Buffer", "data": list(v)})
    if isinstance(v, dict):
        items = {js_key(k): x for k, x in v.items()}
        keys = sorted(items, key=utf16) if canonical else js_key_order(list(items))
        return "{" + ",".join(f"{js_string(k)}:{js_json(items[k], canonical)}" for k in keys) + "}"
    raise TypeError(f"cannot write a {type(v).__name__} as JSON")


def canonical(v: Any) -> str:
    """JSON with object keys sorted, so that both languages hash the same bytes."""
    return js_json(v, canonical=True)


# ── the state ────────────────────────────────────────────────────────────────


def fnv1a(text: str) -> int:
    h = 0x811C9DC5
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def entry_hash(key: str, value: Any) -> int:
    return fnv1a(canonical([key, value]))


def put(key: str, value: Any) -> None:
    """Sets `key` (MISSING removes it), keeping the mug up to date."""
    global mug
    if key in entries:
        mug ^= entry_hash(key, entries[key])
    if value is MISSING:
        entries.pop(key, None)
    else:
        entries[key] = value
        mug ^= entry_hash(key, value)


def get(key: Any, default: Any = None) -> Any:
    """entries.get(key) ?? default"""
    value = entries.get(key) if isinstance(key, str) else None
    return default if value is None else value


def field(ev: Any, name: str) -> Any:
    """ev[name] as JavaScript reads it: MISSING when ev is not an object or lacks it."""
    return ev.get(name, MISSING) if isinstance(ev, dict) else MISSING


def key_of(ev: Any) -> str:
    key = field(ev, "key")
    if not isinstance(key, str):
        raise TypeError("the event needs a string key")
    return key


def snapshot_file(pier: str) -> str:
    return os.path.join(pier, "kv-snapshot.json")


# ── the serf ─────────────────────────────────────────────────────────────────


def load(pier: str | None) -> tuple[int, int] | None:
    if pier is None or not os.path.exists(snapshot_file(pier)):
        return None
    with open(snapshot_file(pier), encoding="utf-8") as f:
        snap = json.load(f)
    for k, v in snap["entries"]:
        put(k, v)
    if mug != snap["mug"]:
        raise ValueError(f"snapshot {snapshot_file(pier)} is corrupt: mug {mug} ≠ {snap['mug']}")
    return snap["eve"], mug


def poke(raw: Any, ctx: PokeContext) -> list:
    ev = {} if raw is None else raw
    op = field(ev, "op")
    if op == "put":
        key = key_of(ev)
        if not isinstance(ev, dict) or "value" not in ev:
            raise TypeError("put needs a value")
        old = get(key)
        put(key, ev["value"])
        return [{"key": key, "old": old}]
    if op == "del":
        key = key_of(ev)
        old = get(key)
        put(key, MISSING)
        return [{"key": key, "old": old}]
    if op == "incr":
        key = key_of(ev)
        by = field(ev, "by")
        if by is MISSING or by is None:
            by = 1
        old = get(key, 0)
        if not is_number(by) or not is_number(old):
            raise TypeError("incr needs numbers")
        put(key, js_add(old, by))
        return [{"key": key, "value": js_add(old, by)}]
    if op == "crashed":
        n = entries.get("crashes")
        put("crashes", js_add(n if is_number(n) else 0, 1))
        return [{"key": "crashes", "value": entries.get("crashes")}]
    if op == "crash":
        raise RuntimeError("crash on purpose")
    if op == "trace":
        return [{"trace": ctx.trace}]
    raise TypeError(f"unknown op {js_json(op)}")


def swap(raw: Any, goof: dict, ctx: PokeContext) -> Any:
    return {"op": "crashed"} if field(raw, "op") == "crash" else None


def peek(path: list, ctx: Any) -> Any:
    head = path[0] if len(path) > 0 else MISSING
    if head == "get" and len(path) == 2:
        return get(path[1])
    if head == "size" and len(path) == 1:
        return len(entries)
    if head == "keys" and len(path) == 1:
        return sorted(entries, key=utf16)
    return None


def save(eve: int, m: int, pier: str | None) -> None:
    if pier is None:
        return
    file = snapshot_file(pier)
    tmp = f"{file}.tmp"
    data = js_json({"eve": eve, "mug": m, "entries": [[k, v] for k, v in entries.items()]}).encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, file)
    dir_fd = os.open(pier, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def pack() -> None:
    copy = list(entries.items())
    entries.clear()
    entries.update(copy)


if __name__ == "__main__":
    run_serf(load=load, poke=poke, swap=swap, mug=lambda: mug, peek=peek, save=save, pack=pack)
