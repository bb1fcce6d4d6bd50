"""A content-addressed block store: what ECS snapshots are made of.

A disk is an image file. A snapshot cuts the image into fixed blocks (`BLOCK_SIZE`, 1 MiB) and stores each block
that is not all zeros as a file named by its SHA-256 under `<root>/<first two hex digits>/<hex digest>`. The
snapshot itself is a manifest: the image size plus one 32-byte digest per block, where 32 zero bytes stand for a
block of zeros (never stored). The manifest is kept by the caller (the durable SQLite store), not here.

- Incremental: a block whose digest is already in the store is not written again, so a second snapshot after one
  block changed adds one block file.
- Crash safety: a block is written to a temporary name in its directory and renamed into place, so a block file
  under its final name is always complete; the caller commits the manifest only after `capture` returned, i.e.
  after every block it names is in place. Temporary files a killed process left behind are removed by
  `remove_temporaries` (called at start-up, before any job runs).
- Change detection: `image_key` is the (size, mtime_ns, ctime_ns, inode) of an image file. A caller that recorded
  the key together with a manifest may reuse that manifest without reading the image when the key is unchanged,
  as restic does. `key_is_trustworthy` refuses keys whose timestamps are within `RACY_NS` of the moment they were
  taken: a write landing in the same timestamp tick would leave the key unchanged (the "racy git" problem).
- Pins and garbage collection: a job pins every digest it is about to reference before it checks whether the block
  exists, and `collect_garbage` deletes only blocks that are neither referenced by a committed manifest nor pinned.
- Holes: regions the file system reports as holes (SEEK_DATA/SEEK_HOLE) are known to be zeros and are not read.
"""
from __future__ import annotations

import hashlib
import itertools
import os
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

BLOCK_SIZE = 1 << 20
DIGEST_SIZE = 32
ZERO_DIGEST = bytes(DIGEST_SIZE)
RACY_NS = 100_000_000  # file timestamps tick at most every few ms; keys younger than this are not trusted
WORKERS = 3  # hashing on one core overlaps with the kernel copying pages on another


class Cancelled(Exception):
    """The job was cancelled or the cloud is stopping; nothing was committed."""


@dataclass
class Capture:
    """What `capture` produced: the manifest and what it cost."""

    size: int
    digests: bytes  # one DIGEST_SIZE digest per block, ZERO_DIGEST for a block of zeros
    key: tuple[int, int, int, int]
    key_taken_ns: int
    reused: bool = False
    blocks_written: int = 0
    bytes_written: int = 0
    pinned: list[bytes] = field(default_factory=list)

    @property
    def block_count(self) -> int:
        return len(self.digests) // DIGEST_SIZE


def image_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def key_is_trustworthy(key: Iterable[int], taken_ns: int) -> bool:
    """Could a later write have left this key unchanged? Only if it was taken in the same timestamp tick."""
    _size, mtime, ctime, _ino = key
    return taken_ns - max(mtime, ctime) > RACY_NS


def split_digests(digests: bytes) -> list[bytes]:
    return [digests[i:i + DIGEST_SIZE] for i in range(0, len(digests), DIGEST_SIZE)]


def _data_ranges(fd: int, size: int) -> list[tuple[int, int]] | None:
    """The (start, end) ranges that may hold data; None when the file system cannot tell."""
    ranges = []
    offset = 0
    try:
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            ranges.append((start, min(end, size)))
            offset = end
    except (AttributeError, OSError):
        return None
    return ranges


def copy_sparse(source: Path, target: Path) -> None:
    """Copy an image file as it is now: its data ranges only (holes stay holes), in the kernel (copy_file_range),
    to a temporary name renamed into place."""
    tmp = target.with_name(target.name + ".tmp")
    src = os.open(source, os.O_RDONLY)
    try:
        size = os.fstat(src).st_size
        dst = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(dst, size)
            for start, end in _data_ranges(src, size) or [(0, size)]:
                offset = start
                while offset < end:
                    n = os.copy_file_range(src, dst, end - offset, offset, offset)
                    if n == 0:
                        break
                    offset += n
        finally:
            os.close(dst)
    finally:
        os.close(src)
    os.replace(tmp, target)


def _block_may_hold_data(ranges: list[tuple[int, int]] | None, start: int, end: int) -> bool:
    if ranges is None:
        return True
    return any(s < end and start < e for s, e in ranges)


class BlockStore:
    def __init__(self, root: Path, block_size: int = BLOCK_SIZE) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.block_size = block_size
        self._lock = threading.Lock()
        self._pins: Counter[bytes] = Counter()
        self._dirs: set[str] = set()
        self._zero = bytes(block_size)

    # -- layout
    def path(self, digest: bytes) -> Path:
        h = digest.hex()
        return self.root / h[:2] / h

    def has(self, digest: bytes) -> bool:
        return os.path.exists(self.path(digest))

    def block_files(self) -> list[Path]:
        return [p for p in self.root.glob("??/*") if len(p.name) == 2 * DIGEST_SIZE]

    def remove_temporaries(self) -> int:
        removed = 0
        for p in self.root.glob("??/.*.tmp"):
            p.unlink(missing_ok=True)
            removed += 1
        return removed

    # -- pins
    def pin(self, digests: Iterable[bytes]) -> list[bytes]:
        pinned = [d for d in digests if d != ZERO_DIGEST]
        with self._lock:
            self._pins.update(pinned)
        return pinned

    def unpin(self, digests: Iterable[bytes]) -> None:
        with self._lock:
            for d in digests:
                self._pins[d] -= 1
                if self._pins[d] <= 0:
                    del self._pins[d]

    def pin_if_complete(self, digests: bytes) -> list[bytes] | None:
        """Pin every block of a manifest if all of them are present (the reuse path); else pin nothing."""
        wanted = [d for d in split_digests(digests) if d != ZERO_DIGEST]
        with self._lock:  # garbage collection holds this lock, so nothing disappears between check and pin
            if not all(self.has(d) for d in set(wanted)):
                return None
            self._pins.update(wanted)
        return wanted

    def collect_garbage(self, referenced: Callable[[], set[bytes]]) -> int:
        """Delete every block neither referenced by a committed manifest nor pinned by a running job."""
        removed = 0
        with self._lock:
            keep = referenced() | set(self._pins)
            for p in self.block_files():
                try:
                    digest = bytes.fromhex(p.name)
                except ValueError:
                    continue
                if digest not in keep:
                    p.unlink(missing_ok=True)
                    removed += 1
        return removed

    # -- writing one block
    def _put(self, digest: bytes, data: bytes) -> bool:
        """Store a block unless present; True when it was written. The caller pinned the digest first."""
        final = self.path(digest)
        if os.path.exists(final):
            return False
        d = final.parent
        if d.name not in self._dirs:
            d.mkdir(exist_ok=True)
            self._dirs.add(d.name)
        tmp = d / f".{final.name}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
        finally:
            os.close(fd)
        os.replace(tmp, final)
        return True

    # -- snapshot and restore
    def capture(self, image: Path, previous: tuple[list[int], int, bytes] | None = None,
                progress: Callable[[float], None] = lambda f: None,
                should_stop: Callable[[], bool] = lambda: False) -> Capture:
        """Store the blocks of an image file and return its manifest.

        `previous` is (key, key_taken_ns, digests) of the last manifest known to describe this file. When the
        file's key still equals it, and that key was trustworthy when taken, the manifest is reused without reading
        a byte. Otherwise every block is read and hashed; blocks already in the store are not written again. Raises
        `Cancelled` when `should_stop()` turns true; the blocks written so far stay until the next garbage
        collection.
        """
        taken = time.time_ns()
        st = os.stat(image)
        key = image_key(st)
        if previous is not None:
            prev_key, prev_taken, prev_digests = previous
            if tuple(prev_key) == key and key_is_trustworthy(prev_key, prev_taken):
                reused_pins = self.pin_if_complete(prev_digests)
                if reused_pins is not None:
                    progress(1.0)
                    return Capture(st.st_size, prev_digests, key, prev_taken, reused=True, pinned=reused_pins)
        size = st.st_size
        bs = self.block_size
        count = (size + bs - 1) // bs
        digests: list[bytes] = [ZERO_DIGEST] * count
        done = [0] * WORKERS
        written = [0] * WORKERS
        written_bytes = [0] * WORKERS
        pinned: list[list[bytes]] = [[] for _ in range(WORKERS)]
        errors: list[BaseException] = []
        indices = itertools.count()
        next_lock = threading.Lock()
        fd = os.open(image, os.O_RDONLY)
        try:
            ranges = _data_ranges(fd, size)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            except (AttributeError, OSError):
                pass

            def work(slot: int) -> None:
                try:
                    while not errors:
                        with next_lock:
                            i = next(indices)
                        if i >= count:
                            return
                        if should_stop():
                            raise Cancelled()
                        start = i * bs
                        length = min(bs, size - start)
                        if _block_may_hold_data(ranges, start, start + length):
                            data = os.pread(fd, length, start)
                            if len(data) != length:
                                raise OSError(f"short read at {start} of {image}")
                            if data != (self._zero if length == bs else bytes(length)):
                                digest = hashlib.sha256(data).digest()
                                digests[i] = digest
                                pinned[slot].extend(self.pin([digest]))
                                if self._put(digest, data):
                                    written[slot] += 1
                                    written_bytes[slot] += length
                        done[slot] += 1
                        if slot == 0 or done[slot] % 16 == 0:
                            progress(sum(done) / count)
                except BaseException as err:  # noqa: BLE001 - handed to the caller below
                    errors.append(err)

            threads = [threading.Thread(target=work, args=(s,), name=f"ecs-snapshot-{s}", daemon=True)
                       for s in range(1, min(WORKERS, max(count, 1)))]
            for t in threads:
                t.start()
            work(0)
            for t in threads:
                t.join()
        finally:
            os.close(fd)
        all_pinned = [d for p in pinned for d in p]
        if errors:
            self.unpin(all_pinned)
            raise errors[0]
        progress(1.0)
        return Capture(size, b"".join(digests), key, taken, blocks_written=sum(written),
                       bytes_written=sum(written_bytes), pinned=all_pinned)

    def restore(self, digests: bytes, size: int, image: Path,
                progress: Callable[[float], None] = lambda f: None,
                should_stop: Callable[[], bool] = lambda: False) -> None:
        """Make `image` byte-identical to a manifest: build a sparse copy next to it, then rename it over it.

        A kill at any point leaves either the old image or the new one, never a mix. The caller pins the digests.
        """
        image = Path(image)
        tmp = image.with_name(image.name + ".reset-tmp")
        blocks = split_digests(digests)
        bs = self.block_size
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            for i, digest in enumerate(blocks):
                if should_stop():
                    raise Cancelled()
                if digest != ZERO_DIGEST:
                    with open(self.path(digest), "rb") as f:
                        data = f.read()
                    if hashlib.sha256(data).digest() != digest:
                        raise OSError(f"block {digest.hex()} is corrupt")
                    view = memoryview(data)
                    offset = i * bs
                    while view:
                        n = os.pwrite(fd, view, offset)
                        view = view[n:]
                        offset += n
                if i % 16 == 0:
                    progress(i / max(len(blocks), 1))
            os.ftruncate(fd, size)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        if should_stop():
            tmp.unlink(missing_ok=True)
            raise Cancelled()
        os.replace(tmp, image)
        progress(1.0)
