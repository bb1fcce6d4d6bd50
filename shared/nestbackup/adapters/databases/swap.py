"""The crash-safe whole-database swap shared by PostgreSQL and SQL Server: `forward` / `backward` over the
primitives each engine gives (see the package docstring)."""
from __future__ import annotations

import hashlib
from typing import Any

from ...errors import Conflict, NotFound
from .values import (
    RenameResult,
)


class _DatabaseSwap:
    """`forward` / `backward` for engines that rename whole databases (see the module docstring). Subclasses give the
    primitives: `exists`, `is_mark` (the database is the original-missing mark), `mark` (make it one; idempotent),
    `create_marked`, `move` (rename, ending other sessions), `reopen` (undo what an interrupted `move` left
    blocking sessions), `note_closed` (say so in the details instead), `drop_mark` (drop a mark, verified empty)."""

    details: list[str]
    conn: Any

    # -- the primitives each engine gives
    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def is_mark(self, name: str) -> bool:
        raise NotImplementedError

    def mark(self, name: str) -> None:
        raise NotImplementedError

    def create_marked(self, name: str) -> None:
        raise NotImplementedError

    def drop_mark(self, name: str, label: str) -> None:
        raise NotImplementedError

    def move(self, src: str, dst: str, fresh: bool = False) -> None:
        raise NotImplementedError

    def reopen(self, name: str) -> None:
        raise NotImplementedError

    def note_closed(self, name: str) -> None:
        raise NotImplementedError

    def __enter__(self) -> _DatabaseSwap:
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - closing a connection the server may already have ended
            pass

    @staticmethod
    def helper_name(aside: str) -> str:
        """The database the original-missing mark is made under before it is renamed to `aside`."""
        return "nestbackup_mark_" + hashlib.sha256(aside.encode("utf-8")).hexdigest()[:24]

    def forward(self, original: str, restored: str, aside: str) -> RenameResult:
        orig, R, A, M = original, restored, aside, self.helper_name(aside)
        if self.exists(M):                  # the original-missing mark was being made
            if self.exists(orig) or self.exists(A):
                raise Conflict(f"helper database {M!r} exists next to {orig!r}/{A!r}: resolve by hand")
            self.mark(M)
            self.move(M, A, fresh=True)
        o, r, a = self.exists(orig), self.exists(R), self.exists(A)
        if not r:
            if o and a:
                self.reopen(orig)
                kept = not self.is_mark(A)
                if kept:
                    self.note_closed(A)
                return RenameResult("Done", kept, (f"already done: {R!r} is {orig!r}",) + tuple(self.details))
            raise NotFound(f"restored database {R!r} does not exist and {orig!r} was not renamed from it: "
                           "nothing was changed")
        if o and a:
            raise Conflict(f"{orig!r}, {R!r} and {A!r} all exist: {A!r} is not this restore's aside database")
        if o:
            self.move(orig, A)
        elif not a:
            self.create_marked(M)
            self.move(M, A, fresh=True)
        self.move(R, orig)
        self.reopen(orig)
        kept = not self.is_mark(A)
        if kept:
            self.note_closed(A)
        self.details.append(f"{R!r} is now {orig!r}; " + (f"the live data of before is under {A!r}" if kept else
                            f"{orig!r} did not exist ({A!r} only marks the rename as done)"))
        return RenameResult("Done", kept, tuple(self.details))

    def backward(self, original: str, restored: str, aside: str) -> RenameResult:
        orig, R, A, M = original, restored, aside, self.helper_name(aside)
        if self.exists(M):
            self.drop_mark(M, "drop helper")
        o, r, a = self.exists(orig), self.exists(R), self.exists(A)
        if not a:
            if o:
                self.reopen(orig)
            if r:
                self.note_closed(R)
            return RenameResult("RolledBack", False, (f"nothing to undo: {A!r} does not exist",) + tuple(self.details))
        if o:
            if not r:
                raise Conflict(f"the rename of {R!r} into {orig!r} completed: roll_back does not undo it; run "
                               f"rename_back({orig!r}, restored={A!r}, aside=<new name>) to swap back")
            raise Conflict(f"{orig!r}, {R!r} and {A!r} all exist: resolve by hand")
        if self.is_mark(A):
            self.drop_mark(A, "drop helper aside")
        else:
            self.move(A, orig)
            self.reopen(orig)
        if r:
            self.note_closed(R)
        self.details.append(f"back to before: the live data under {orig!r}, the restored data under {R!r}")
        return RenameResult("RolledBack", False, tuple(self.details))
