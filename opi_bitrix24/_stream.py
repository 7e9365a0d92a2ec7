"""Streamed request bodies: files are read while they are sent, never held whole in memory.

A file argument given as a path becomes a :class:`FileSource` (the path and its size, nothing read
yet). Where OPI base64-encodes a file into the JSON body, the value is a :class:`Base64` wrapper around
the source; the request core writes the JSON around a placeholder and :func:`json_body` returns a
:class:`StreamedBody` that yields the JSON skeleton and the base64 text chunk by chunk. A multipart
upload is a :class:`StreamedBody` of its head, the file and its tail.

A :class:`StreamedBody` follows the request core's body protocol: ``__len__`` is the exact byte length
(computed before anything is sent, so ``Content-Length`` is set and the body is not chunked) and every
``iter()`` starts again from the first byte (re-reading the file), so a retry re-sends the whole body.
The bytes are exactly those of the in-memory encoding (``json.dumps(..., ensure_ascii=False)`` in
UTF-8, standard base64 without line breaks).
"""

from __future__ import annotations

import base64
import os
import re
from typing import Iterator, List, Sequence, Union

from ._errors import InvalidArgument

__all__ = ["PLACEHOLDER", "Base64", "FileSource", "StreamedBody", "json_body"]

#: Bytes read from a file at a time: a multiple of 3, so every chunk encodes to whole base64 quads.
CHUNK = 3 * 2**18


class FileSource:
    """A file to send, read lazily (in :data:`CHUNK` pieces) each time the body is iterated."""

    __slots__ = ("name", "path", "size")

    def __init__(self, path: str, size: int, name: str) -> None:
        self.path = path
        self.size = size
        self.name = name

    @classmethod
    def open(cls, path: str, name: str) -> FileSource:
        """Check that ``path`` can be read now (the error comes before any request) and note its size."""
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
        except OSError as exc:
            raise InvalidArgument(name, f"cannot read {path!r} ({exc.strerror})") from None
        return cls(path, size, name)

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"FileSource({self.path!r}, {self.size})"

    def read(self) -> bytes:
        """The whole content (for the rare caller that needs it in memory)."""
        return b"".join(self.chunks())

    def chunks(self, block: int = CHUNK) -> Iterator[bytes]:
        """The content in pieces of ``block`` bytes (the last one shorter), exactly ``size`` bytes in all."""
        try:
            handle = open(self.path, "rb")
        except OSError as exc:
            raise InvalidArgument(self.name, f"cannot read {self.path!r} ({exc.strerror})") from None
        with handle:
            left = self.size
            while left:
                try:
                    chunk = handle.read(min(block, left))
                except OSError as exc:
                    raise InvalidArgument(self.name, f"cannot read {self.path!r} ({exc.strerror})") from None
                if not chunk:
                    raise InvalidArgument(self.name, f"the file {self.path!r} got shorter while it was sent")
                left -= len(chunk)
                if not left and handle.read(1):  # checked before the last bytes go: no truncated upload
                    raise InvalidArgument(self.name, f"the file {self.path!r} grew while it was sent")
                yield chunk


Content = Union[bytes, FileSource]


class Base64:
    """A file sent as base64 text inside a JSON body, encoded while the body is sent."""

    __slots__ = ("source",)

    def __init__(self, source: Content) -> None:
        self.source = source

    def __len__(self) -> int:
        """The length of the base64 text: 4 characters per started group of 3 bytes."""
        return 4 * ((len(self.source) + 2) // 3)

    def __repr__(self) -> str:
        shown = repr(self.source) if isinstance(self.source, FileSource) else f"<{len(self.source)} bytes>"
        return f"Base64({shown})"

    def __eq__(self, other: object) -> bool:
        """Equal to its base64 text (and to another value of the same content), like the text it stands for."""
        if isinstance(other, Base64):
            other = other.text()
        return isinstance(other, str) and len(other) == len(self) and self.text() == other

    __hash__ = None  # type: ignore[assignment]

    def text(self) -> str:
        """The whole base64 text (in memory; used only where a body cannot be streamed)."""
        if isinstance(self.source, bytes):
            return base64.b64encode(self.source).decode("ascii")
        return b"".join(self.chunks()).decode("ascii")

    def chunks(self) -> Iterator[bytes]:
        if isinstance(self.source, bytes):
            view = memoryview(self.source)
            for start in range(0, len(view), CHUNK):
                yield base64.b64encode(view[start : start + CHUNK])
            return
        rest = b""
        for piece in self.source.chunks():
            data = rest + piece if rest else piece
            cut = len(data) - len(data) % 3
            rest = data[cut:] if cut < len(data) else b""
            if cut:
                yield base64.b64encode(data[:cut] if rest else data)
        if rest:
            yield base64.b64encode(rest)


Part = Union[bytes, FileSource, Base64]


class StreamedBody:
    """A request body made of literal bytes, raw files and base64-encoded files (see the module doc)."""

    __slots__ = ("_length", "parts")

    def __init__(self, parts: Sequence[Part]) -> None:
        self.parts = tuple(part for part in parts if len(part))
        self._length = sum(len(part) for part in self.parts)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        for part in self.parts:
            if isinstance(part, bytes):
                yield part
            else:
                yield from part.chunks()

    def __bytes__(self) -> bytes:
        return b"".join(self)

    def __repr__(self) -> str:
        return f"StreamedBody({len(self)} bytes)"


#: The text a :class:`Base64` value stands in for while the JSON skeleton is written: ``\0<nonce>:<n>\0``
#: (JSON writes it as ``"\u0000<nonce>:<n>\u0000"``; the random nonce keeps it apart from user text).
PLACEHOLDER = "\x00{nonce}:{index}\x00"


def json_body(skeleton: str, nonce: str, values: Sequence[Base64]) -> StreamedBody:
    """The streamed body of a JSON text whose strings ``PLACEHOLDER`` stand for ``values``, in order.

    The skeleton (everything but the files) is encoded to UTF-8 once; each placeholder string becomes
    ``"`` + the base64 text + ``"``, exactly what ``json.dumps`` writes for that text.
    """
    marker = re.compile(r'"\\u0000' + re.escape(nonce) + r':(\d+)\\u0000"')
    parts: List[Part] = []
    position = 0
    for match in marker.finditer(skeleton):
        parts.append((skeleton[position : match.start()] + '"').encode("utf-8"))
        parts.append(values[int(match.group(1))])
        position = match.end() - 1
    parts.append(skeleton[position:].encode("utf-8"))
    return StreamedBody(parts)
