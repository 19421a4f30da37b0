"""The wire protocol between `Sandbox` and its fork servers (and from a server to a child waiting
for its job): one message = an 8-byte big-endian length, then that many bytes of UTF-8 JSON.

Stdlib only: the fork server loads this file by path (it runs with ``-S`` and imports nothing
of the atlas_kernel package); `sandbox.py` imports it normally.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

HEADER = struct.Struct(">Q")
MAX_READ = 1 << 20


def frame(obj: Any) -> bytes:
    """One message: length header + JSON body."""
    body = json.dumps(obj).encode()
    return HEADER.pack(len(body)) + body


def read_exact(fd: int, n: int, deadline: float | None = None) -> bytes | None:
    """`n` bytes from `fd`, None at end of file; with a `deadline` (time.monotonic()), TimeoutError
    when it passes first."""
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if not select.select([fd], [], [], left)[0]:
                continue
        b = os.read(fd, min(n - len(buf), MAX_READ))
        if not b:
            return None
        buf += b
    return bytes(buf)


def read_msg(fd: int, deadline: float | None = None) -> Any:
    """The next message, or None when the other side closed the pipe."""
    head = read_exact(fd, HEADER.size, deadline)
    if head is None:
        return None
    body = read_exact(fd, HEADER.unpack(head)[0], deadline)
    return None if body is None else json.loads(body)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_msg(fd: int, obj: Any) -> None:
    write_all(fd, frame(obj))
