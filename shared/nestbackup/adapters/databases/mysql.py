"""MySQL / MariaDB: the journal swap (there is no RENAME DATABASE; tables are renamed one by one and the
triggers, views, routines and events are journaled, dropped and recreated; see the package docstring). Over 400
lines because it is one algorithm: forward and backward read the same journal and must stay side by side."""
from __future__ import annotations

import json
from dataclasses import dataclass

from ...decisions.dbnames import (
    quote_mysql,
    rewrite_schema_qualifiers,
    strip_definer,
)
from ...errors import Conflict, NotFound
from .values import (
    _CHARSET,
    DONE,
    JOURNAL_COMMENT,
    JOURNAL_PREFIX,
    MOVABLE_KINDS,
    PRE,
    RECREATE_ORDER,
    SWAPPED,
    DbRenameError,
    DbServer,
    Hook,
    RenameResult,
)


@dataclass
class _Entry:
    k: int
    role: str            # "original" (moves original -> aside) | "restored" (moves restored -> original)
    kind: str            # TRIGGER | VIEW | PROCEDURE | FUNCTION | EVENT
    name: str
    definition: str
    sql_mode: str | None
    time_zone: str | None
    collation: str | None
    note: str | None


class _MySQL:
    def __init__(self, server: DbServer, hook: Hook | None, lock_wait_seconds: int) -> None:
        import pymysql

        self._pymysql = pymysql
        try:
            self.conn = pymysql.connect(host=server.host, port=int(server.port), user=server.user,
                                        password=server.password, charset="utf8mb4", autocommit=True,
                                        connect_timeout=server.connect_timeout)
        except pymysql.MySQLError as err:
            raise DbRenameError(f"cannot connect to MySQL {server.host}:{server.port}: {err}",
                                code=err.args[0] if err.args else None) from err
        self.hook = hook
        self.details: list[str] = []
        self._names: dict[tuple[str, str], tuple[set, set]] = {}
        self.fold = int(self.scalar("SELECT @@lower_case_table_names")) > 0
        self.base_mode = self.scalar("SELECT @@SESSION.sql_mode")
        self.base_tz = self.scalar("SELECT @@SESSION.time_zone")
        self.base_collation = self.scalar("SELECT @@SESSION.collation_connection")
        self.read(f"SET SESSION lock_wait_timeout = {int(lock_wait_seconds)}")

    def __enter__(self) -> _MySQL:
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - closing a dead connection
            pass

    # -- statements
    def read(self, sql: str, args: tuple | None = None) -> list[tuple]:
        """A statement that changes nothing persistent. Identifiers never go into a statement with `args`."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        except self._pymysql.MySQLError as err:
            raise DbRenameError(f"{sql[:200]}: {err}", code=err.args[0] if err.args else None) from err

    def scalar(self, sql: str, args: tuple | None = None):
        rows = self.read(sql, args)
        return rows[0][0] if rows else None

    def do(self, sql: str, label: str) -> None:
        """A statement that changes the databases; the hook runs after it. Values are inlined with lit()."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql)
        except self._pymysql.MySQLError as err:
            raise DbRenameError(f"{label}: {err}", code=err.args[0] if err.args else None) from err
        if self.hook:
            self.hook(label)

    def lit(self, value: str | None) -> str:
        return "NULL" if value is None else self.conn.escape(value)

    def use(self, schema: str) -> None:
        self.read("USE " + quote_mysql(schema))

    def same(self, a: str, b: str) -> bool:
        return a.lower() == b.lower() if self.fold else a == b

    # -- what is there
    def schema(self, name: str) -> tuple[str, str] | None:
        """(character set, collation) of schema `name`, None if it does not exist."""
        rows = self.read("SELECT schema_name, default_character_set_name, default_collation_name "
                         "FROM information_schema.schemata WHERE schema_name = %s", (name,))
        found = next(((r[1], r[2]) for r in rows if self.same(r[0], name)), None)
        if found and not all(_CHARSET.fullmatch(x or "") for x in found):
            raise Conflict(f"unexpected character set / collation {found!r} of {name!r}")
        return found

    def _rows(self, sql: str, schema: str) -> list[tuple]:
        return [r[1:] for r in self.read(sql, (schema,)) if self.same(r[0], schema)]

    def tables(self, schema: str) -> list[str]:
        """Everything RENAME TABLE moves: base tables, sequences, system-versioned tables (not views)."""
        return sorted(r[0] for r in self._rows(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_schema = %s",
            schema) if r[1] not in ("VIEW", "TEMPORARY"))

    def objects(self, schema: str) -> list[tuple[str, str]]:
        """(kind, name) of the views, triggers (in firing order), routines and events of `schema`."""
        out = [("VIEW", r[0]) for r in sorted(self._rows(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = %s AND table_type = 'VIEW'", schema))]
        out += [("TRIGGER", r[0]) for r in self._rows(
            "SELECT trigger_schema, trigger_name FROM information_schema.triggers WHERE trigger_schema = %s "
            "ORDER BY event_object_table, action_timing, event_manipulation, action_order", schema)]
        out += [(r[1], r[0]) for r in sorted(self._rows(
            "SELECT routine_schema, routine_name, routine_type FROM information_schema.routines "
            "WHERE routine_schema = %s", schema))]
        out += [("EVENT", r[0]) for r in sorted(self._rows(
            "SELECT event_schema, event_name FROM information_schema.events WHERE event_schema = %s", schema))]
        return out

    def exists(self, schema: str, kind: str, name: str) -> bool:
        return any(k == kind and self.same(n, name) for k, n in self.objects(schema))

    def contents(self, schema: str) -> list[str]:
        return [f"table {t}" for t in self.tables(schema)] + [f"{k.lower()} {n}" for k, n in self.objects(schema)]

    def journal(self, aside: str) -> tuple[str | None, str | None]:
        """(phase, table name) of the journal in `aside`; (None, None) if there is none."""
        found = [t for t in self.tables(aside) if t.startswith(JOURNAL_PREFIX)
                 and t[len(JOURNAL_PREFIX):] in (PRE, SWAPPED, DONE)]
        if len(found) > 1:
            raise Conflict(f"{aside!r} holds several rename journals ({', '.join(found)}): resolve by hand")
        return (found[0][len(JOURNAL_PREFIX):], found[0]) if found else (None, None)

    def entries(self, aside: str, table: str) -> tuple[dict | None, list[_Entry]]:
        rows = self.read("SELECT k, role, kind, name, definition, sql_mode, time_zone, collation_connection, note "
                         f"FROM {quote_mysql(aside)}.{quote_mysql(table)} ORDER BY k")
        meta = next((json.loads(r[4]) for r in rows if r[1] == "meta"), None)
        return meta, [_Entry(*r) for r in rows if r[1] != "meta"]

    # -- forward
    def forward(self, original: str, restored: str, aside: str) -> RenameResult:
        orig, R, A = original, restored, aside
        a_schema = self.schema(A)
        phase, journal = self.journal(A) if a_schema else (None, None)
        if phase == DONE:
            return RenameResult("Done", False, (f"already done: {orig!r} did not exist; {R!r} is now {orig!r}",))
        if a_schema is None:
            if self.schema(R) is None:
                raise NotFound(f"restored database {R!r} does not exist and {orig!r} was not renamed from it: "
                               "nothing was changed")
            self.precheck(orig, R, A)
            o_schema = self.schema(orig)
            charset = o_schema or self.schema(R)
            assert charset is not None          # R exists (checked above)
            cs, coll = charset
            self.do(f"CREATE DATABASE {quote_mysql(A)} CHARACTER SET {cs} COLLATE {coll}", "create aside")
            a_schema = (cs, coll)
        elif phase is None:
            if self.schema(R) is None:
                if self.schema(orig) is not None:
                    return RenameResult("Done", True, (f"already done: {R!r} is {orig!r}, the live data under {A!r}",))
                raise Conflict(f"{A!r} exists but neither {orig!r} nor {R!r} does: nothing to rename")
            if self.contents(A):
                raise Conflict(f"{A!r} already exists and is not empty: it is not this restore's aside database")
            self.precheck(orig, R, A)
        if phase is None:
            journal = JOURNAL_PREFIX + PRE
            self.do(f"CREATE TABLE IF NOT EXISTS {quote_mysql(A)}.{quote_mysql(journal)} ("
                    "k INT AUTO_INCREMENT PRIMARY KEY, role VARCHAR(16) NOT NULL, kind VARCHAR(16) NOT NULL, "
                    "name VARCHAR(64) NOT NULL, definition LONGTEXT NOT NULL, sql_mode TEXT NULL, "
                    "time_zone VARCHAR(64) NULL, collation_connection VARCHAR(64) NULL, note TEXT NULL, "
                    "UNIQUE KEY one_object (role, kind, name)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 "
                    f"COLLATE=utf8mb4_bin COMMENT={self.lit(JOURNAL_COMMENT)}", "create journal")
            phase = PRE
        assert journal is not None
        meta, _ = self.entries(A, journal)
        if meta is None:            # nothing has moved before the meta row is written
            if phase != PRE:
                raise Conflict(f"the rename journal {A!r}.{journal!r} has lost its meta row: resolve by hand")
            o_schema, r_schema = self.schema(orig), self.schema(R)
            assert r_schema is not None         # the restored database is checked before the journal is made
            meta = {"original_existed": o_schema is not None, "original_charset": list(o_schema or a_schema),
                    "restored_charset": list(r_schema), "original": orig, "restored": R}
            self.do(f"INSERT INTO {quote_mysql(A)}.{quote_mysql(journal)} (role, kind, name, definition) VALUES "
                    f"('meta', 'meta', '', {self.lit(json.dumps(meta))})", "journal meta")
        if phase == PRE:
            self.before_swap(orig, R, A, journal, meta)
            journal = JOURNAL_PREFIX + SWAPPED
        return self.after_swap(orig, R, A, journal, meta)

    def precheck(self, orig: str, R: str, A: str) -> None:
        """Refuse, before changing anything, what could not be moved back and forth."""
        problems = []
        for schema in (orig, R):
            if self.schema(schema) is None:
                continue
            for t in self.tables(schema):
                if t.startswith(JOURNAL_PREFIX):
                    problems.append(f"{schema!r} has a table {t!r}, a name the rename journal uses")
            for kind, name in self.objects(schema):
                if kind not in MOVABLE_KINDS:
                    problems.append(f"{schema!r}: {kind.lower()} {name!r} cannot be moved")
                    continue
                try:
                    self.definition(schema, kind, name)
                    if kind == "VIEW":
                        self.read(f"SHOW COLUMNS FROM {quote_mysql(schema)}.{quote_mysql(name)}")
                except (DbRenameError, Conflict) as err:
                    problems.append(f"{schema!r}: {kind.lower()} {name!r} is not usable: {err}")
        if problems:
            raise Conflict("cannot rename: " + "; ".join(problems))

    def definition(self, schema: str, kind: str, name: str) -> dict:
        """What recreating the object takes: its definition and the session settings it was defined under."""
        self.use(schema)
        row = self.read(f"SHOW CREATE {kind} {quote_mysql(name)}")
        if not row:
            raise Conflict(f"{kind.lower()} {schema!r}.{name!r} vanished")
        first = row[0]
        if kind == "VIEW":
            out = {"definition": first[1], "sql_mode": None, "time_zone": None, "collation": first[3]}
        elif kind == "EVENT":
            out = {"definition": first[3], "sql_mode": first[1], "time_zone": first[2], "collation": first[5]}
        else:   # TRIGGER, PROCEDURE, FUNCTION
            out = {"definition": first[2], "sql_mode": first[1], "time_zone": None, "collation": first[4]}
        if not out["definition"]:
            raise Conflict(f"the definition of {kind.lower()} {schema!r}.{name!r} is not readable by this account")
        return out

    def before_swap(self, orig: str, R: str, A: str, journal: str, meta: dict) -> None:
        if self.schema(R) is None:
            raise Conflict(f"restored database {R!r} vanished in the middle of the rename: run roll_back")
        if self.schema(orig) is None:
            if meta["original_existed"]:
                raise Conflict(f"{orig!r} vanished in the middle of the rename: resolve by hand")
            cs, coll = meta["restored_charset"]
            self.do(f"CREATE DATABASE {quote_mysql(orig)} CHARACTER SET {cs} COLLATE {coll}", "create original")
        self.journal_and_drop({"original": orig, "restored": R}, A, journal)
        moves = [(orig, t, A, t) for t in self.tables(orig)] + [(R, t, orig, t) for t in self.tables(R)]
        moves.append((A, journal, A, JOURNAL_PREFIX + SWAPPED))
        self.do("RENAME TABLE " + ", ".join(f"{quote_mysql(s)}.{quote_mysql(t)} TO {quote_mysql(d)}.{quote_mysql(u)}"
                                            for s, t, d, u in moves), "swap tables")
        self.details.append(f"moved {len(moves) - 1} tables in one RENAME TABLE")

    def journal_and_drop(self, schemas: dict[str, str], A: str, journal: str, kinds=MOVABLE_KINDS) -> None:
        """Save the definition of every object of `schemas` (role -> schema) in the journal, then drop it; one
        object at a time, triggers in firing order (the journal's order is the order they are recreated in)."""
        qj = f"{quote_mysql(A)}.{quote_mysql(journal)}"
        for role, schema in schemas.items():
            for kind, name in self.objects(schema):
                if kind not in kinds:
                    continue
                d = self.definition(schema, kind, name)
                self.do(f"INSERT INTO {qj} (role, kind, name, definition, sql_mode, time_zone, collation_connection)"
                        f" VALUES ({self.lit(role)}, {self.lit(kind)}, {self.lit(name)}, {self.lit(d['definition'])},"
                        f" {self.lit(d['sql_mode'])}, {self.lit(d['time_zone'])}, {self.lit(d['collation'])}) "
                        "ON DUPLICATE KEY UPDATE definition = VALUES(definition), sql_mode = VALUES(sql_mode), "
                        "time_zone = VALUES(time_zone), collation_connection = VALUES(collation_connection)",
                        f"journal {kind.lower()} {name}")
                self.do(f"DROP {kind} {quote_mysql(schema)}.{quote_mysql(name)}", f"drop {kind.lower()} {name}")

    def after_swap(self, orig: str, R: str, A: str, journal: str, meta: dict) -> RenameResult:
        cs, coll = meta["restored_charset"]
        if self.schema(orig) != (cs, coll):
            self.do(f"ALTER DATABASE {quote_mysql(orig)} CHARACTER SET {cs} COLLATE {coll}", "charset of original")
        _, entries = self.entries(A, journal)
        self.recreate(entries, {"original": (orig, A), "restored": (R, orig)}, A, journal)
        if self.schema(R) is not None:
            left = self.contents(R)
            if left:
                raise Conflict(f"{R!r} is not empty after the move ({', '.join(left[:10])}): it was not dropped")
            self.do(f"DROP DATABASE {quote_mysql(R)}", "drop restored")
        qj = f"{quote_mysql(A)}.{quote_mysql(journal)}"
        if meta["original_existed"]:
            self.do(f"DROP TABLE {qj}", "drop journal")
            self.details.append(f"{R!r} is now {orig!r}; the live data of before is under {A!r}")
        else:
            self.do(f"RENAME TABLE {qj} TO {quote_mysql(A)}.{quote_mysql(JOURNAL_PREFIX + DONE)}", "journal done")
            self.details.append(f"{orig!r} did not exist; {R!r} is now {orig!r} ({A!r} only marks the rename as done)")
        return RenameResult("Done", bool(meta["original_existed"]), tuple(self.details))

    def recreate(self, entries: list[_Entry], where: dict[str, tuple[str, str]], A: str, journal: str) -> None:
        """Create every journalled object missing from its target schema (`where`: role -> (source, target))."""
        pending = [e for kind in RECREATE_ORDER for e in entries if e.kind == kind and e.note != "expired"]
        present: dict[str, set] = {}
        for target in {t for _, t in where.values()}:
            present[target] = {(k, n.lower() if self.fold else n) for k, n in self.objects(target)}
        views_failed: list[tuple[_Entry, DbRenameError]] = []
        made = 0
        for e in pending:
            source, target = where[e.role]
            if (e.kind, e.name.lower() if self.fold else e.name) in present[target]:
                continue
            if e.kind == "VIEW":
                try:
                    self.create(e, source, target, entries)
                    made += 1
                except DbRenameError as err:      # may depend on a view not yet created: after the others
                    views_failed.append((e, err))
                continue
            if views_failed and e.kind != "VIEW":
                self.retry_views(views_failed, where, entries)
                views_failed = []
            self.create(e, source, target, entries)
            made += 1
            if e.kind == "EVENT" and not self.exists(target, "EVENT", e.name):
                self.do(f"UPDATE {quote_mysql(A)}.{quote_mysql(journal)} SET note = 'expired' WHERE k = {int(e.k)}",
                        f"event {e.name} expired")
                self.details.append(f"event {e.name!r} expired when recreated (schedule in the past, "
                                    "ON COMPLETION NOT PRESERVE)")
        if views_failed:
            self.retry_views(views_failed, where, entries)
        if made:
            self.details.append(f"recreated {made} views/triggers/routines/events")

    def retry_views(self, failed: list, where: dict, entries: list[_Entry]) -> None:
        while failed:
            still = []
            for e, _err in failed:
                source, target = where[e.role]
                try:
                    self.create(e, source, target, entries)
                except DbRenameError as again:
                    still.append((e, again))
            if len(still) == len(failed):
                e, err = still[0]
                raise DbRenameError(f"view {e.name!r} cannot be recreated: {err}", code=err.code)
            failed = still

    def create(self, e: _Entry, source: str, target: str, entries: list[_Entry]) -> None:
        mode = e.sql_mode if e.sql_mode is not None else self.base_mode
        text = e.definition
        if e.kind != "VIEW" and not self.same(source, target):
            key = (e.role, target)
            if key not in self._names:      # the tables and views of the object's schema, and its routines
                self._names[key] = (set(self.tables(target)) | {x.name for x in entries
                                                               if x.role == e.role and x.kind == "VIEW"},
                                    {x.name for x in entries if x.role == e.role and x.kind in ("PROCEDURE",
                                                                                                "FUNCTION")})
            names, routines = self._names[key]
            text = rewrite_schema_qualifiers(text, source, target, ansi_quotes="ANSI_QUOTES" in mode.upper(),
                                             backslash_escapes="NO_BACKSLASH_ESCAPES" not in mode.upper(),
                                             fold_case=self.fold, schema_tables=names,
                                             schema_objects=names | routines)
        self.use(target)
        self.read(f"SET SESSION sql_mode = {self.lit(mode)}, "
                  f"time_zone = {self.lit(e.time_zone or self.base_tz)}, "
                  f"collation_connection = {self.lit(e.collation or self.base_collation)}")
        label = f"create {e.kind.lower()} {e.name} in {target}"
        try:
            try:
                self.do(text, label)
            except DbRenameError as err:
                stripped = strip_definer(text)
                if err.code != 1227 or stripped == text:
                    raise
                self.do(stripped, label)
                self.details.append(f"{e.kind.lower()} {target!r}.{e.name!r} recreated without its DEFINER "
                                    "(this account may not name another definer); its definer is now this account")
        finally:
            self.read(f"SET SESSION sql_mode = {self.lit(self.base_mode)}, time_zone = {self.lit(self.base_tz)}, "
                      f"collation_connection = {self.lit(self.base_collation)}")

    # -- backward
    def backward(self, original: str, restored: str, aside: str) -> RenameResult:
        orig, R, A = original, restored, aside
        if self.schema(A) is None:
            return RenameResult("RolledBack", False, (f"nothing to undo: {A!r} does not exist",))
        phase, journal = self.journal(A)
        if phase == DONE or (phase is None and self.schema(R) is None and self.schema(orig) is not None):
            raise Conflict(f"the rename of {R!r} into {orig!r} completed: roll_back does not undo it; run "
                           f"rename_back({orig!r}, restored={A!r}, aside=<new name>) to swap back")
        if phase is None:
            left = self.contents(A)
            if left:
                raise Conflict(f"{A!r} exists, is not empty and has no rename journal: resolve by hand")
            self.do(f"DROP DATABASE {quote_mysql(A)}", "drop aside")
            return RenameResult("RolledBack", False, (f"dropped the empty {A!r}",))
        assert journal is not None              # a phase is only read from a journal
        meta, entries = self.entries(A, journal)
        if meta is None:
            self.do(f"DROP TABLE {quote_mysql(A)}.{quote_mysql(journal)}", "drop journal")
            self.do(f"DROP DATABASE {quote_mysql(A)}", "drop aside")
            return RenameResult("RolledBack", False, ("nothing had moved",))
        if phase == SWAPPED:
            if self.schema(R) is None:
                cs, coll = meta["restored_charset"]
                self.do(f"CREATE DATABASE {quote_mysql(R)} CHARACTER SET {cs} COLLATE {coll}", "create restored")
            where = {"original": A, "restored": orig}
            for kind in ("TRIGGER", "EVENT", "VIEW", "PROCEDURE", "FUNCTION"):
                for e in entries:
                    if e.kind == kind and self.exists(where[e.role], kind, e.name):
                        self.do(f"DROP {kind} {quote_mysql(where[e.role])}.{quote_mysql(e.name)}",
                                f"drop {kind.lower()} {e.name} from {where[e.role]}")
            if self.tables(R):
                raise Conflict(f"{R!r} has tables again: cannot move the restored tables back into it")
            moves = [(orig, t, R, t) for t in self.tables(orig)]
            moves += [(A, t, orig, t) for t in self.tables(A) if t != journal]
            moves.append((A, journal, A, JOURNAL_PREFIX + PRE))
            self.do("RENAME TABLE " + ", ".join(
                f"{quote_mysql(s)}.{quote_mysql(t)} TO {quote_mysql(d)}.{quote_mysql(u)}" for s, t, d, u in moves),
                "swap tables back")
            journal = JOURNAL_PREFIX + PRE
        if self.schema(R) is None:
            cs, coll = meta["restored_charset"]
            self.do(f"CREATE DATABASE {quote_mysql(R)} CHARACTER SET {cs} COLLATE {coll}", "create restored")
        if meta["original_existed"]:
            cs, coll = meta["original_charset"]
            if self.schema(orig) is None:
                raise Conflict(f"{orig!r} vanished in the middle of the rename: resolve by hand")
            if self.schema(orig) != (cs, coll):
                self.do(f"ALTER DATABASE {quote_mysql(orig)} CHARACTER SET {cs} COLLATE {coll}", "charset of original")
        # triggers still on their tables would fire before those recreated from the journal: journal them too,
        # so that all are recreated in their first order
        schemas = {"original": orig, "restored": R} if meta["original_existed"] else {"restored": R}
        self.journal_and_drop(schemas, A, journal, kinds=("TRIGGER",))
        _, entries = self.entries(A, journal)
        self.recreate(entries, {"original": (orig, orig), "restored": (R, R)}, A, journal)
        if not meta["original_existed"] and self.schema(orig) is not None:
            left = self.contents(orig)
            if left:
                raise Conflict(f"{orig!r} did not exist before the rename but now holds {', '.join(left[:10])}: "
                               "it was not dropped")
            self.do(f"DROP DATABASE {quote_mysql(orig)}", "drop created original")
        self.do(f"DROP TABLE {quote_mysql(A)}.{quote_mysql(journal)}", "drop journal")
        left = self.contents(A)
        if left:
            raise Conflict(f"{A!r} is not empty after the roll-back ({', '.join(left[:10])}): it was not dropped")
        self.do(f"DROP DATABASE {quote_mysql(A)}", "drop aside")
        self.details.append(f"back to before: the live data under {orig!r}, the restored data under {R!r}")
        return RenameResult("RolledBack", False, tuple(self.details))
