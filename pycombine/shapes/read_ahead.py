"""Reading a ROOT file's records ahead of a reader that asks for them one at a time.

A large combination reads 10^4 templates from one file, in an order the model builder knows in
advance (channels, processes, shape systematics of the card). :class:`ReadAhead` reads and
decompresses their records on a worker thread, one window of names ahead of the builder, while
the builder decodes the previous ones: zlib releases the GIL, so on two cores the decompression
(half of the reading) runs beside the rest of the build. Only two windows are held at a time.
Anything the worker could not read is read again, one by one, by the caller (with its messages).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from .rawroot import RawRootFile

#: names per window (two windows, ~10^4 bytes per template record, are held at a time)
WINDOW = 512

_pool: ThreadPoolExecutor | None = None


def _worker() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pycombine-read-ahead")
    return _pool


class ReadAhead:
    """The decompressed records of ``names`` (of the classes ``classes``), in the order they will
    be asked for; :meth:`take` hands one over (None: not read ahead)."""

    def __init__(self, raw: RawRootFile, names: list[str], classes):
        self.raw = raw
        self.names = names
        self.classes = classes
        self.index: dict[str, int] = {}
        for i, name in enumerate(names):
            self.index.setdefault(name, i)
        self._windows: dict[int, Future] = {}

    def take(self, name: str) -> bytes | None:
        i = self.index.get(name)
        if i is None:
            return None
        w = i // WINDOW
        self._submit(w)
        self._submit(w + 1)  # the next window is read while this one is decoded
        for done in [k for k in self._windows if k < w]:
            del self._windows[done]
        try:
            return self._windows[w].result().pop(name, None)
        except Exception:  # pragma: no cover - the caller reads it again, with its own errors
            return None

    def _submit(self, w: int) -> None:
        if w in self._windows or w * WINDOW >= len(self.names):
            return
        keys = []
        for name in self.names[w * WINDOW : (w + 1) * WINDOW]:
            try:
                key = self.raw.key(name)  # the directory walk stays on this thread
            except Exception:  # the caller reports it when it asks for the name
                key = None
            if key is not None and key.classname in self.classes:
                keys.append((name, key))
        self._windows[w] = _worker().submit(self._read, keys)

    def _read(self, keys) -> dict[str, bytes]:
        out = {}
        for name, key in keys:
            try:
                out[name] = self.raw.record(key)
            except Exception:  # read again (and reported) by the one-by-one path
                continue
        return out
