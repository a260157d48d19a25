"""
liege.py — the worker side of liege's wire, for Python workers (stdlib only).

This is the Python twin of the Node worker SDK (`src/worker/io.ts` and
`src/worker/serf.ts`); see SPEC §1 (wire), §2 (serf), §5 (pool) and §8
(environment). It gives you:

* framing: every message is one frame, an 8-byte unsigned little-endian length
  and then that many payload bytes, read from stdin and written to stdout;
* the codec named by `LIEGE_CODEC`: `json` (the default) or `msgpack` (plain
  MessagePack, implemented here in pure Python: nil, bool, int, float, str,
  array, map). Values travel exactly or not at all: what cannot (bytes, NaN,
  a lone surrogate, in MessagePack an int beyond ±(2^53 − 1) or a non-str
  key, extension types) raises EncodeFailure when sent and is a bad frame
  when received;
* `slog(pri, msg)`: a log line for the host (pri 0 debug … 3 error);
* `run_serf(...)`: a serf from a few callbacks, the same contract as the Node
  `runSerf` (ripe at start; play, work, peek, save, pack, exit answered);
* `run_worker(handler)`: a pool worker (ready, then req → res, cancel), with a
  single-threaded select() loop and a timer heap so that requests can be
  answered later without blocking the ones behind them.

Heartbeat (SPEC §1): the wire answers the host's `{"t":"ping","n":k}` with
`{"t":"pong","n":k}` as soon as it reads it, and writes the pong at once. It
reads whenever the worker is idle in its loop (run_worker waits in select(),
so also while requests wait on `after` timers); a handler that is busy
computing answers when the loop next reads. (The host pings only a worker
with nothing outstanding.)

Trace context (SPEC §1): a `req` or a `work` writ may carry `trace`, the W3C
traceparent (`00-<trace id>-<span id>-<flags>`) of the span it runs in. A
pool handler finds it in `req.trace`, a serf's `poke` and `swap` in
`ctx.trace`; None when the host sent none (or sent something that is not a
str), and always None during `play`.

Like every liege worker, a worker built on this module exits 0 when its stdin
ends. Answers are written in batches: everything sent while handling the bytes
of one read from stdin goes out in one write, then stdout is flushed. Once the
wire is connected, `sys.stdout` points at stderr, so a stray `print()` becomes
a log line instead of corrupting the frames.
"""

from __future__ import annotations

import heapq
import inspect
import json
import math
import os
import re
import select
import struct
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterator, NoReturn, Sequence

HEADER_BYTES = 8
DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024
PROTOCOL_VERSION = 1
READ_BYTES = 256 * 1024


def fatal(message: str) -> NoReturn:
    """A broken wire: say why on stderr and exit 70 (as the Node SDK does)."""
    try:
        sys.stderr.write(f"worker: {message}\n")
        sys.stderr.flush()
    finally:
        os._exit(70)


# ── MessagePack ──────────────────────────────────────────────────────────────
#
# Values travel exactly or not at all (SPEC §1): what both codecs carry is the
# JSON data model — None, bools, ints, finite floats, str of Unicode text,
# lists (and tuples) and dicts with str keys. In MessagePack an int is written
# in the smallest int/uint format that holds it, and only an int within
# ±(2^53 − 1) travels (the host holds numbers as doubles); a float is always a
# float64. Bytes, NaN and ±Infinity, a str with a lone surrogate, a dict key
# that is not a str, and extension types are refused both ways.

MAX_SAFE_INTEGER = 2**53 - 1


class MsgpackError(ValueError):
    """Bytes that are not one plain MessagePack value, or one that cannot be given to JSON callers."""


class EncodeFailure(ValueError):
    """A value that cannot travel exactly (nothing was encoded)."""


_pack_u16 = struct.Struct(">H").pack
_pack_u32 = struct.Struct(">I").pack
_pack_u64 = struct.Struct(">Q").pack
_pack_i8 = struct.Struct(">b").pack
_pack_i16 = struct.Struct(">h").pack
_pack_i32 = struct.Struct(">i").pack
_pack_i64 = struct.Struct(">q").pack
_pack_f64 = struct.Struct(">d").pack


def _pack_length(out: bytearray, n: int, fix: int | None, fix_max: int, m8: int | None, m16: int, m32: int) -> None:
    """Writes the header of a str/array/map of `n` items or bytes."""
    if fix is not None and n <= fix_max:
        out.append(fix | n)
    elif m8 is not None and n <= 0xFF:
        out.append(m8)
        out.append(n)
    elif n <= 0xFFFF:
        out.append(m16)
        out += _pack_u16(n)
    elif n <= 0xFFFFFFFF:
        out.append(m32)
        out += _pack_u32(n)
    else:
        raise EncodeFailure(f"too long for MessagePack: {n}")


def _utf8(v: str) -> bytes:
    try:
        return v.encode("utf-8")
    except UnicodeEncodeError as e:
        unit = ord(v[e.start])
        raise EncodeFailure(f"a string holds a lone surrogate (\\u{unit:04x}): it is not Unicode text") from None


def _pack(out: bytearray, v: Any) -> None:
    if v is None:
        out.append(0xC0)
    elif v is True:
        out.append(0xC3)
    elif v is False:
        out.append(0xC2)
    elif isinstance(v, int):
        if not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
            raise EncodeFailure(f"integer {v} is beyond ±(2^53−1): JSON callers cannot hold it exactly")
        if 0 <= v:
            if v <= 0x7F:
                out.append(v)
            elif v <= 0xFF:
                out.append(0xCC)
                out.append(v)
            elif v <= 0xFFFF:
                out.append(0xCD)
                out += _pack_u16(v)
            elif v <= 0xFFFFFFFF:
                out.append(0xCE)
                out += _pack_u32(v)
            else:
                out.append(0xCF)
                out += _pack_u64(v)
        elif v >= -32:
            out.append(v & 0xFF)
        elif v >= -0x80:
            out.append(0xD0)
            out += _pack_i8(v)
        elif v >= -0x8000:
            out.append(0xD1)
            out += _pack_i16(v)
        elif v >= -0x80000000:
            out.append(0xD2)
            out += _pack_i32(v)
        else:
            out.append(0xD3)
            out += _pack_i64(v)
    elif isinstance(v, float):
        if not math.isfinite(v):
            raise EncodeFailure(f"{v} is not a finite number")
        out.append(0xCB)
        out += _pack_f64(v)
    elif isinstance(v, str):
        data = _utf8(v)
        _pack_length(out, len(data), 0xA0, 31, 0xD9, 0xDA, 0xDB)
        out += data
    elif isinstance(v, (list, tuple)):
        _pack_length(out, len(v), 0x90, 15, None, 0xDC, 0xDD)
        for item in v:
            _pack(out, item)
    elif isinstance(v, dict):
        _pack_length(out, len(v), 0x80, 15, None, 0xDE, 0xDF)
        for key, item in v.items():
            if not isinstance(key, str):
                raise EncodeFailure(f"a dict key of type {type(key).__name__} is not a str: JSON objects have string keys")
            _pack(out, key)
            _pack(out, item)
    elif isinstance(v, (bytes, bytearray, memoryview)):
        raise EncodeFailure("bytes cannot travel: JSON callers have no bytes (send text, e.g. base64)")
    else:
        raise EncodeFailure(f"a {type(v).__name__} is not plain data")


def packb(value: Any) -> bytes:
    """One value as MessagePack bytes; raises EncodeFailure for what cannot travel exactly."""
    out = bytearray()
    _pack(out, value)
    return bytes(out)


_unpack_from = struct.unpack_from


class _Unpacker:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        start = self.pos
        end = start + n
        if end > len(self.data):
            raise MsgpackError(f"truncated: need {n} bytes at offset {start}, have {len(self.data) - start}")
        self.pos = end
        return self.data[start:end]

    def number(self, fmt: str, size: int) -> Any:
        if self.pos + size > len(self.data):
            raise MsgpackError(f"truncated number at offset {self.pos}")
        (v,) = _unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return v

    def integer(self, fmt: str) -> int:
        v = self.number(fmt, 8)
        if not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
            raise MsgpackError(f"integer {v} is beyond ±(2^53−1)")
        return v

    def real(self, fmt: str, size: int) -> float:
        v = self.number(fmt, size)
        if not math.isfinite(v):
            raise MsgpackError(f"{v} is not a finite number")
        return v

    def text(self, n: int) -> str:
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise MsgpackError(f"a str at offset {self.pos - n} is not valid UTF-8") from None

    def array(self, n: int) -> list:
        return [self.value() for _ in range(n)]

    def map(self, n: int) -> dict:
        out: dict = {}
        for _ in range(n):
            at = self.pos
            key = self.value()
            if not isinstance(key, str):
                raise MsgpackError(f"the map key at offset {at} is not a string")
            out[key] = self.value()
        return out

    def value(self) -> Any:
        if self.pos >= len(self.data):
            raise MsgpackError(f"truncated: value expected at offset {self.pos}")
        b = self.data[self.pos]
        self.pos += 1
        if b <= 0x7F:
            return b
        if b >= 0xE0:
            return b - 0x100
        if 0x80 <= b <= 0x8F:
            return self.map(b & 0x0F)
        if 0x90 <= b <= 0x9F:
            return self.array(b & 0x0F)
        if 0xA0 <= b <= 0xBF:
            return self.text(b & 0x1F)
        if b == 0xC0:
            return None
        if b == 0xC2:
            return False
        if b == 0xC3:
            return True
        if b == 0xCA:
            return self.real(">f", 4)
        if b == 0xCB:
            return self.real(">d", 8)
        if b == 0xCC:
            return self.number(">B", 1)
        if b == 0xCD:
            return self.number(">H", 2)
        if b == 0xCE:
            return self.number(">I", 4)
        if b == 0xCF:
            return self.integer(">Q")
        if b == 0xD0:
            return self.number(">b", 1)
        if b == 0xD1:
            return self.number(">h", 2)
        if b == 0xD2:
            return self.number(">i", 4)
        if b == 0xD3:
            return self.integer(">q")
        if b == 0xD9:
            return self.text(self.number(">B", 1))
        if b == 0xDA:
            return self.text(self.number(">H", 2))
        if b == 0xDB:
            return self.text(self.number(">I", 4))
        if b == 0xDC:
            return self.array(self.number(">H", 2))
        if b == 0xDD:
            return self.array(self.number(">I", 4))
        if b == 0xDE:
            return self.map(self.number(">H", 2))
        if b == 0xDF:
            return self.map(self.number(">I", 4))
        if 0xC4 <= b <= 0xC6:
            raise MsgpackError(f"bin at offset {self.pos - 1}: bin values cannot be given to JSON callers")
        if b in (0xC7, 0xC8, 0xC9) or 0xD4 <= b <= 0xD8:
            raise MsgpackError(f"extension type 0x{b:02x} at offset {self.pos - 1}: liege speaks plain MessagePack only")
        raise MsgpackError(f"byte 0x{b:02x} at offset {self.pos - 1} does not start a MessagePack value")


def unpackb(data: bytes) -> Any:
    """Exactly one plain MessagePack value from `data`."""
    u = _Unpacker(bytes(data))
    value = u.value()
    if u.pos != len(u.data):
        raise MsgpackError(f"{len(u.data) - u.pos} bytes left over after the value")
    return value


# ── codecs ───────────────────────────────────────────────────────────────────


class DecodeFailure(Exception):
    """A payload that does not decode to one message."""


def _json_default(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray, memoryview)):
        raise EncodeFailure("bytes cannot travel: JSON callers have no bytes (send text, e.g. base64)")
    raise EncodeFailure(f"a {type(v).__name__} is not plain data")


def _json_encode(message: Any) -> bytes:
    try:
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default)
    except ValueError as e:
        if isinstance(e, EncodeFailure):
            raise
        raise EncodeFailure(f"NaN and ±Infinity are not finite numbers ({e})") from None
    return _utf8(text)


# a \uD800–\uDFFF escape in JSON text: only then are the strings looked at
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(v: Any) -> str | None:
    """The first str (or key) in a parsed value that holds a lone surrogate."""
    if isinstance(v, str):
        return v if _SURROGATE.search(v) else None
    if isinstance(v, list):
        for item in v:
            found = _lone_surrogate(item)
            if found is not None:
                return found
    elif isinstance(v, dict):
        for key, item in v.items():
            found = _lone_surrogate(key) or _lone_surrogate(item)
            if found is not None:
                return found
    return None


def _json_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _json_decode(payload: bytes) -> Any:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeFailure("not valid UTF-8") from None
    try:
        # (a literal beyond the range of a double is read as ±inf, as JavaScript reads it: the
        # host hands on JSON text it was given as it is, SPEC §1)
        value = json.loads(text, parse_constant=_json_constant)
    except (ValueError, RecursionError) as e:
        raise DecodeFailure(f"not JSON ({e})") from None
    if "\\u" in text and _SURROGATE_ESCAPE.search(text) and _lone_surrogate(value) is not None:
        raise DecodeFailure("a string holds a lone surrogate: it is not Unicode text")
    return value


def _msgpack_decode(payload: bytes) -> Any:
    try:
        return unpackb(payload)
    except (MsgpackError, RecursionError) as e:
        raise DecodeFailure(f"not MessagePack ({e})") from None


@dataclass(frozen=True)
class Codec:
    name: str
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]

    def frame(self, message: Any) -> bytes:
        """The whole frame (header + payload) for one message."""
        payload = self.encode(message)
        return len(payload).to_bytes(HEADER_BYTES, "little") + payload


JSON = Codec("json", _json_encode, _json_decode)
MSGPACK = Codec("msgpack", packb, _msgpack_decode)


def codec(name: str) -> Codec:
    if name == "json":
        return JSON
    if name == "msgpack":
        return MSGPACK
    raise ValueError(f"unknown codec {name!r}")


def env_codec() -> str:
    """The codec named by LIEGE_CODEC (json when unset); exits 70 on an unknown name."""
    name = os.environ.get("LIEGE_CODEC", "json")
    if name not in ("json", "msgpack"):
        fatal(f"unknown LIEGE_CODEC {json.dumps(name)}")
    return name


# ── frames ───────────────────────────────────────────────────────────────────


class FrameOverflow(Exception):
    def __init__(self, length: int, max_bytes: int) -> None:
        super().__init__(f"frame of {length} bytes exceeds {max_bytes}")
        self.length = length
        self.max = max_bytes


class FrameDecoder:
    """
    Incremental frame decoder: any split of the byte stream into chunks gives
    the same frames. A header above `max_frame_bytes` raises FrameOverflow as
    soon as its 8 bytes are in, before anything is allocated for the body.
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._body: int | None = None  # length of the body being read, once its header is in

    def push(self, chunk: bytes) -> list[bytes]:
        """Feeds one chunk; returns the payloads of the frames it completes, in order."""
        buf = self._buf
        buf += chunk
        frames: list[bytes] = []
        pos = 0
        end = len(buf)
        while True:
            if self._body is None:
                if end - pos < HEADER_BYTES:
                    break
                length = int.from_bytes(buf[pos : pos + HEADER_BYTES], "little")
                if length > self.max_frame_bytes:
                    raise FrameOverflow(length, self.max_frame_bytes)
                self._body = length
                pos += HEADER_BYTES
            if end - pos < self._body:
                break
            with memoryview(buf) as view:
                frames.append(bytes(view[pos : pos + self._body]))
            pos += self._body
            self._body = None
        if pos:
            del buf[:pos]
        return frames


# ── the wire ─────────────────────────────────────────────────────────────────


class Wire:
    """
    This process's end of the wire: frames in on stdin, frames out on stdout.
    `send` queues a message; `flush` writes everything queued in one go.
    With `heartbeat` (the default) the host's pings are answered here, as they
    are read, and never returned by `read`.
    """

    def __init__(
        self, codec_name: str | None = None, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES, heartbeat: bool = True
    ) -> None:
        self.codec = codec(codec_name or env_codec())
        self._heartbeat = heartbeat
        self._in = sys.stdin.buffer.fileno()
        self._out = sys.stdout.buffer
        self._queued: list[bytes] = []
        self._decoder = FrameDecoder(max_frame_bytes)
        # From now on stdout belongs to the wire; print() goes to stderr.
        sys.stdout = sys.stderr

    def fileno(self) -> int:
        return self._in

    def send(self, message: Any) -> None:
        """Queues one message (one frame); it goes out at the next flush."""
        self._queued.append(self.codec.frame(message))

    def slog(self, pri: int, msg: str) -> None:
        """Queues a log line for the host (pri 0 debug, 1 info, 2 warning, 3 error)."""
        self.send({"t": "slog", "pri": pri, "msg": msg})

    def flush(self) -> None:
        if not self._queued:
            return
        data = b"".join(self._queued)
        self._queued.clear()
        try:
            self._out.write(data)
            self._out.flush()
        except (BrokenPipeError, ConnectionResetError):
            # The host went away: nothing left to do.
            os._exit(0)

    def read(self) -> Iterator[Any] | None:
        """
        Blocks for the next bytes from the host and returns the messages they
        complete (maybe none), decoded one by one as they are taken; None when
        stdin has ended. A ping among them is answered (and flushed, with what
        was queued before it) when it is taken, and not returned.
        """
        try:
            chunk = os.read(self._in, READ_BYTES)
        except (ConnectionResetError, BrokenPipeError):
            return None
        if not chunk:
            return None
        try:
            payloads = self._decoder.push(chunk)
        except FrameOverflow as e:
            fatal(f"frame of {e.length} bytes from host exceeds {e.max}")
        return self._messages(payloads)

    def _messages(self, payloads: list[bytes]) -> Iterator[Any]:
        heartbeat = self._heartbeat
        for payload in payloads:
            message = self._decode(payload)
            if heartbeat and type(message) is dict and message.get("t") == "ping":
                self.send({"t": "pong", "n": message.get("n")})
                self.flush()
                continue
            yield message

    def _decode(self, payload: bytes) -> Any:
        try:
            return self.codec.decode(payload)
        except DecodeFailure as e:
            fatal(f"bad frame from host: {e}")

    def exit(self, code: int = 0) -> NoReturn:
        """Flushes what is queued and exits at once with `code`."""
        self.flush()
        try:
            sys.stderr.flush()
        finally:
            os._exit(code & 0xFF if isinstance(code, int) else 1)


_wire: Wire | None = None


def connect(
    codec_name: str | None = None, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES, heartbeat: bool = True
) -> Wire:
    """
    Opens the wire (once per process); `slog` below uses it. With `heartbeat`
    (the default) the wire answers the host's pings itself; with False they
    are returned by `read` like any other message.
    """
    global _wire
    if _wire is None:
        _wire = Wire(codec_name, max_frame_bytes, heartbeat)
    return _wire


def slog(pri: int, msg: str) -> None:
    """A log line for the host (pri 0 debug … 3 error), sent with the next batch."""
    if _wire is None:
        sys.stderr.write(f"{msg}\n")
    else:
        _wire.slog(pri, msg)


# ── serf (SPEC §2) ───────────────────────────────────────────────────────────


@dataclass(frozen=True)
class PokeContext:
    eve: int  # the event number this event will have
    wen: Any  # the event's time (ms)
    replaying: bool  # True during play (boot and replay), False for live work
    # the W3C traceparent of the span a live event is worked in; None during play
    # and when the writ has none (it is not logged: the state must not depend on it)
    trace: str | None = None


@dataclass(frozen=True)
class PeekContext:
    now: Any
    gang: Sequence[str] | None


def goof_of(e: BaseException) -> dict:
    """
    A goof for an exception: its class name and its message lines (as the
    Node SDK does) — never its traceback, which would carry the serf's file
    paths to every caller.
    """
    text = str(e)
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")] if text else []
    return {"mote": type(e).__name__, "tang": lines}


def _trace_of(v: Any) -> str | None:
    """A message's `trace`: the traceparent when it is a str, else None (no trace)."""
    return v if isinstance(v, str) else None


def _js_quote(v: Any) -> str:
    """JSON.stringify for a short log line (undefined when missing)."""
    try:
        return json.dumps(v, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(v)


def run_serf(
    *,
    poke: Callable[[Any, PokeContext], Sequence[Any] | None],
    mug: Callable[[], int],
    peek: Callable[[Sequence[str], PeekContext], Any],
    load: Callable[[str | None], tuple[int, int] | dict | None] | None = None,
    swap: Callable[[Any, dict, PokeContext], Any] | None = None,
    save: Callable[[int, int, str | None], None] | None = None,
    pack: Callable[[], None] | None = None,
    hon: int = 1,
    nok: int = 1,
) -> NoReturn:
    """
    Runs a serf until stdin ends (the same contract as the Node `runSerf`):

      load(pier)            restore the snapshot in $LIEGE_PIER: (eve, mug),
                            {"eve": e, "mug": m}, or None when there is none
      poke(ev, ctx)         apply one event, return its effects (a list or
                            None); raise to refuse it. ctx is a PokeContext:
                            eve, wen, replaying, and trace (the live event's
                            traceparent, or None)
      swap(ev, goof, ctx)   a replacement for a live event that raised, or
                            None to bail
      mug()                 the 32-bit unsigned hash of the state
      peek(path, ctx)       a value or None
      save(eve, mug, pier)  write a snapshot of the state at eve
      pack()                compact the state

    A `play` batch stops at the first event that raises (play-bail, with the
    mug before that event). A `work` event that raises is answered work-swap
    when `swap` offers a replacement that applies, else work-bail. Raising in
    load, mug, peek, save or pack is a crash (the host restarts the serf).
    The host's heartbeat pings are answered by the wire between writs.
    """
    pier = os.environ.get("LIEGE_PIER")
    wire = connect()
    snapshot = load(pier) if load is not None else None
    if snapshot is None:
        eve = 0
    elif isinstance(snapshot, dict):
        eve = int(snapshot["eve"])
    else:
        eve = int(snapshot[0])

    def play(first: Any, events: Sequence[dict]) -> None:
        nonlocal eve
        if first != eve + 1:
            wire.send(
                {
                    "t": "play-bail",
                    "eve": first,
                    "mug": mug(),
                    "dud": {"mote": "eve", "tang": [f"play from {first}, but this serf is at {eve}"]},
                }
            )
            return
        for event in events:
            mug_before = mug()
            try:
                poke(event.get("ev"), PokeContext(eve + 1, event.get("wen"), True))
            except Exception as e:
                wire.send({"t": "play-bail", "eve": eve + 1, "mug": mug_before, "dud": goof_of(e)})
                return
            eve += 1
        wire.send({"t": "play-done", "mug": mug()})

    def work(wen: Any, ev: Any, trace: Any) -> None:
        nonlocal eve
        ctx = PokeContext(eve + 1, wen, False, _trace_of(trace))
        try:
            fec = poke(ev, ctx)
        except Exception as e:
            goof = goof_of(e)
            try:
                replacement = swap(ev, goof, ctx) if swap is not None else None
            except Exception as e2:
                # (The Node SDK lets a throwing swap crash the serf; a bail is deterministic.)
                wire.send({"t": "work-bail", "lud": [goof, goof_of(e2)]})
                return
            if replacement is None:
                wire.send({"t": "work-bail", "lud": [goof]})
                return
            try:
                fec = poke(replacement, ctx)
            except Exception as e2:
                wire.send({"t": "work-bail", "lud": [goof, goof_of(e2)]})
                return
            eve += 1
            wire.send({"t": "work-swap", "eve": eve, "mug": mug(), "wen": wen, "ev": replacement, "fec": list(fec or [])})
            return
        eve += 1
        wire.send({"t": "work-done", "eve": eve, "mug": mug(), "fec": list(fec or [])})

    def on_message(writ: Any) -> None:
        t = writ.get("t") if isinstance(writ, dict) else None
        if t == "work":
            work(writ.get("wen"), writ.get("ev"), writ.get("trace"))
        elif t == "play":
            play(writ.get("eve"), writ.get("events") or [])
        elif t == "peek":
            dat = peek(writ.get("path") or [], PeekContext(writ.get("now"), writ.get("gang")))
            wire.send({"t": "peek", "dat": dat})
        elif t == "save":
            if save is not None:
                save(eve, mug(), pier)
            wire.send({"t": "live"})
        elif t == "pack":
            if pack is not None:
                pack()
            wire.send({"t": "live"})
        elif t == "exit":
            code = writ.get("code", 0)
            wire.exit(code if isinstance(code, int) and not isinstance(code, bool) else 0)
        else:
            wire.slog(3, f"unknown writ {_js_quote(t) if t is not None else 'undefined'}")

    wire.send({"t": "ripe", "pro": PROTOCOL_VERSION, "hon": hon, "nok": nok, "eve": eve, "mug": mug()})
    wire.flush()
    while True:
        messages = wire.read()
        if messages is None:
            wire.exit(0)
        for message in messages:
            on_message(message)
        wire.flush()


# ── pool worker (SPEC §5) ────────────────────────────────────────────────────


class Fail(Exception):
    """Raise from a pool handler to answer {"err": {"code", "message"}}."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Pending:
    def __repr__(self) -> str:
        return "PENDING"


PENDING: Any = _Pending()
"""Returned by a handler that answers later (see `Request.after`)."""


class Request:
    """
    One request from the host. `open` is False once answered or cancelled.
    `credit` is None for a request that asked for no stream, else the chunks
    the host lets the handler send now. `trace` is the W3C traceparent of the
    span the request runs in, or None when the host sent none.
    """

    __slots__ = ("id", "payload", "open", "cancelled", "credit", "trace", "_worker")

    def __init__(
        self, worker: "_PoolWorker", rid: Any, payload: Any, credit: int | None = None, trace: str | None = None
    ) -> None:
        self.id = rid
        self.payload = payload
        self.open = True
        self.cancelled = False
        self.credit = credit
        self.trace = trace
        self._worker = worker

    def ok(self, value: Any) -> None:
        if self.open:
            self._worker.answer(self, {"t": "res", "id": self.id, "ok": value})

    def err(self, code: str, message: str) -> None:
        if self.open:
            self._worker.answer(self, {"t": "res", "id": self.id, "err": {"code": code, "message": message}})

    def after(self, ms: float, fn: Callable[[], Any]) -> Any:
        """
        Calls `fn()` after `ms` milliseconds, unless the request is answered or
        cancelled by then; its result answers the request as a handler's would.
        Returns PENDING, so a handler can `return req.after(...)`.
        """
        self._worker.schedule(ms, self, fn)
        return PENDING


def _describe(e: BaseException) -> str:
    """'Name: message' for an exception a handler raised (never its traceback)."""
    try:
        return f"{type(e).__name__}: {e}"
    except Exception:  # a __str__ that raises
        return type(e).__name__


class _PoolWorker:
    def __init__(self, handler: Callable[[Any, Request], Any]) -> None:
        self.handler = handler
        self.wire = connect()
        self.open: dict[Any, Request] = {}
        self.timers: list[tuple[float, int, Request, Callable[[], Any]]] = []
        self.seq = 0
        # generator handlers streaming their answer, by request id
        self.streams: dict[Any, tuple[Request, Any]] = {}

    def answer(self, req: Request, message: dict) -> None:
        req.open = False
        self.open.pop(req.id, None)
        try:
            self.wire.send(message)
        except (TypeError, ValueError, RecursionError) as e:
            # An answer the codec cannot carry fails that request, not the worker.
            error = {"code": "internal", "message": f"the answer cannot be encoded: {e}"}
            self.wire.send({"t": "res", "id": req.id, "err": error})

    def schedule(self, ms: float, req: Request, fn: Callable[[], Any]) -> None:
        self.seq += 1
        heapq.heappush(self.timers, (time.monotonic() + max(0.0, ms) / 1000.0, self.seq, req, fn))

    def settle(self, req: Request, fn: Callable[[], Any]) -> None:
        """Runs `fn` for `req` and answers with its result (PENDING: not yet)."""
        try:
            result = fn()
        except Fail as f:
            req.err(f.code, f.message)
            return
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            req.err("internal", _describe(e))
            return
        if result is PENDING:
            return
        if inspect.isgenerator(result):
            if req.credit is None:
                # asked for no stream: the values are collected into one answer
                self.settle(req, lambda: list(result))
            else:
                self.streams[req.id] = (req, result)
            return
        req.ok(result)

    def pump(self) -> None:
        """Advances each streaming generator while it has credit (a bounded number of steps per turn)."""
        for rid, (req, gen) in list(self.streams.items()):
            steps = 0
            while req.open and req.credit and steps < 64:
                steps += 1
                try:
                    value = next(gen)
                except StopIteration as stop:
                    del self.streams[rid]
                    req.ok(stop.value)
                    break
                except Fail as f:
                    del self.streams[rid]
                    req.err(f.code, f.message)
                    break
                except Exception as e:
                    traceback.print_exc(file=sys.stderr)
                    del self.streams[rid]
                    req.err("internal", _describe(e))
                    break
                req.credit -= 1
                try:
                    self.wire.send({"t": "chunk", "id": rid, "data": value})
                except (TypeError, ValueError, RecursionError) as e:
                    del self.streams[rid]
                    gen.close()
                    req.err("internal", f"a chunk cannot be encoded: {e}")
                    break
            if not req.open and rid in self.streams:
                # cancelled while streaming: the generator is closed (its finally blocks run)
                del self.streams[rid]
                gen.close()

    def on_message(self, m: Any) -> None:
        t = m.get("t") if isinstance(m, dict) else None
        if t == "req" and "id" in m:
            stream = m.get("stream")
            credit = stream if isinstance(stream, int) and not isinstance(stream, bool) and stream > 0 else None
            req = Request(self, m["id"], m.get("payload"), credit, _trace_of(m.get("trace")))
            self.open[req.id] = req
            self.settle(req, lambda: self.handler(req.payload, req))
        elif t == "credit":
            req = self.open.get(m.get("id"))
            n = m.get("n")
            if req is not None and req.credit is not None and isinstance(n, int):
                req.credit += n
        elif t == "cancel":
            req = self.open.get(m.get("id"))
            if req is not None:
                # let go at once and say so: the host discards this answer, and
                # knows the worker is free again (one that stays silent is recycled)
                req.err("cancelled", "the caller left")
                req.cancelled = True
        else:
            text = _js_quote(m)
            self.wire.slog(3, f"unknown message {text[:200]}{'…' if len(text) > 200 else ''}")

    def run(self) -> NoReturn:
        wire = self.wire
        fd = wire.fileno()
        wire.send({"t": "ready", "pro": PROTOCOL_VERSION})
        wire.flush()
        while True:
            timeout = None
            if self.timers:
                timeout = max(0.0, self.timers[0][0] - time.monotonic())
            if any(req.credit for req, _ in self.streams.values()):
                timeout = 0.0  # a stream can go on: look at stdin, then go on with it
            readable, _, _ = select.select([fd], [], [], timeout)
            if readable:
                messages = wire.read()
                if messages is None:
                    wire.exit(0)
                for message in messages:
                    self.on_message(message)
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, req, fn = heapq.heappop(self.timers)
                if req.open:
                    self.settle(req, fn)
            self.pump()
            wire.flush()


def run_worker(handler: Callable[[Any, Request], Any]) -> NoReturn:
    """
    Runs a pool worker until stdin ends. `handler(payload, req)` answers each
    request: its return value is the `ok` answer; raising Fail(code, message)
    answers `err`; any other exception (in the handler or in an `after`
    callback) answers err code "internal" (the host answers it HTTP 500), and
    so does an answer the codec cannot carry. To answer later, return
    `req.after(ms, fn)` (or PENDING and call req.ok / req.err). A cancelled
    request is answered err "cancelled" at once (the host discards that
    answer) and closed: its pending `after` callbacks never run. Pings are
    answered whenever the loop reads, so also while requests wait on `after`.

    A handler streams by being a generator: for a request that asked for a
    stream, each value it yields goes out as a chunk, never more than the
    credit the host granted (the loop goes on with it as credit comes, and
    reads stdin between values: pings are answered), and its return value is
    the answer; a cancel closes the generator. For a request that asked for
    no stream, the values are collected into one answer (a list).

    `req.trace` is the W3C traceparent the host sent with the request (the
    span it runs in), or None.
    """
    _PoolWorker(handler).run()
