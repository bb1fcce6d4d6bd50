"""The T-SQL parser of the local SQL Server stand-in: tokens to statements, for the small set in `SUPPORTED`.

Recursive descent over the lexer's tokens; each statement becomes (name of the `Engine` method that runs it,
its arguments). SQL Server's batch semantics for syntax errors are kept: the whole batch is parsed before any of
it runs (`parse_batch`), so a syntax error runs none of it. Anything outside `SUPPORTED` is error 102.
"""
from __future__ import annotations

from .catalog import SqlError, key
from .lexer import Token, syntax_error, tokenize

_TABLE_CONSTRAINTS = {"constraint", "primary", "unique", "foreign", "check", "index"}
_NOT_AN_ALIAS = {"join", "inner", "on", "where"}
_COMPARISONS = ("<=", ">=", "<>", "!=", "=", "<", ">")


def parse_batch(text: str) -> list[tuple[str, tuple]]:
    """Every statement of a batch, as (Engine method name, arguments); raises SqlError on the first error."""
    return Parser(tokenize(text)).batch()


class Parser:
    """Recursive descent over the token list; each statement becomes (Engine method name, arguments)."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    # ------------------------------------------------------------------------------ primitives
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self) -> SqlError:
        tok = self.tok
        if tok.kind == "end":  # SQL Server reports the last token when the batch ends too early
            tok = self.tokens[self.i - 1] if self.i else tok
        return syntax_error(tok.text)

    def advance(self) -> Token:
        tok = self.tok
        self.i += 1
        return tok

    def accept(self, *words: str) -> bool:
        if self.tok.is_word(*words):
            self.i += 1
            return True
        return False

    def expect(self, *words: str) -> str:
        if not self.tok.is_word(*words):
            raise self.error()
        return str(self.advance().value).lower()

    def accept_sym(self, sym: str) -> bool:
        if self.tok.kind == "sym" and self.tok.value == sym:
            self.i += 1
            return True
        return False

    def expect_sym(self, sym: str) -> None:
        if not self.accept_sym(sym):
            raise self.error()

    def ident(self) -> str:
        if self.tok.kind not in ("word", "qid"):
            raise self.error()
        return str(self.advance().value)

    def dotted(self, most: int = 3) -> list[str]:
        parts = [self.ident()]
        while len(parts) < most and self.accept_sym("."):
            parts.append(self.ident())
        return parts

    def string(self) -> str:
        if self.tok.kind != "str":
            raise self.error()
        return str(self.advance().value)

    def literal(self) -> object:
        if self.accept("null"):
            return None
        if self.tok.kind == "str":
            return self.advance().value
        negative = self.accept_sym("-")
        if self.tok.kind != "num":
            raise self.error()
        value = self.advance().value
        return -value if negative else value

    def is_name(self, tok: Token, name: str) -> bool:
        return tok.kind in ("word", "qid") and key(str(tok.value)) == name

    # ------------------------------------------------------------------------------ statements
    def batch(self) -> list[tuple[str, tuple]]:
        statements = []
        while True:
            while self.accept_sym(";"):
                pass
            if self.tok.kind == "end":
                return statements
            statements.append(self.statement())

    def statement(self) -> tuple[str, tuple]:
        verb = self.expect("select", "create", "drop", "alter", "use", "insert", "delete")
        if verb == "select":
            return self.select()
        if verb == "use":
            return "use", (self.ident(),)
        if verb == "insert":
            self.accept("into")
            return self.insert()
        if verb == "delete":
            self.accept("from")
            parts = self.dotted()
            where = None
            if self.accept("where"):
                column = self.ident()
                op = next((o for o in _COMPARISONS if self.accept_sym(o)), None)
                if op is None:
                    raise self.error()
                where = (column, op, self.literal())
            return "delete", (parts, where)
        if verb == "drop":
            self.expect("database")
            return "drop_database", (self.ident(),)
        if verb == "create":
            if self.expect("database", "table") == "database":
                return "create_database", (self.ident(),)
            return self.create_table()
        self.expect("database")  # ALTER
        name = self.ident()
        if self.accept("modify"):
            self.expect("name")
            self.expect_sym("=")
            return "rename_database", (name, self.ident())
        self.expect("set")
        access = self.expect("single_user", "multi_user").upper()
        rollback = self.accept("with")
        if rollback:
            self.expect("rollback")
            self.expect("immediate")
        return "set_access", (name, access, rollback)

    def create_table(self) -> tuple[str, tuple]:
        parts = self.dotted()
        self.expect_sym("(")
        columns = []
        while True:
            if self.tok.is_word(*_TABLE_CONSTRAINTS):
                self.skip_definition()
            else:
                columns.append(self.ident())
                self.skip_definition()
            if self.accept_sym(")"):
                break
            self.expect_sym(",")
        if not columns:
            raise self.error()
        return "create_table", (parts, columns)

    def skip_definition(self) -> None:
        """Skip a column's type and options (or a table constraint) up to the next top-level ',' or ')'."""
        depth = 0
        while True:
            tok = self.tok
            if tok.kind == "end" or (tok.kind == "sym" and tok.value in ",)" and depth == 0):
                if tok.kind == "end":
                    raise self.error()
                return
            if tok.kind == "sym" and tok.value == "(":
                depth += 1
            elif tok.kind == "sym" and tok.value == ")":
                depth -= 1
            self.i += 1

    def insert(self) -> tuple[str, tuple]:
        parts = self.dotted()
        targets = None
        if self.accept_sym("("):
            targets = [self.ident()]
            while self.accept_sym(","):
                targets.append(self.ident())
            self.expect_sym(")")
        self.expect("values")
        rows = []
        while True:
            self.expect_sym("(")
            row = [self.literal()]
            while self.accept_sym(","):
                row.append(self.literal())
            self.expect_sym(")")
            rows.append(row)
            if not self.accept_sym(","):
                return "insert", (parts, targets, rows)

    def select(self) -> tuple[str, tuple]:
        if self.accept("@@version"):
            return "version", ()
        if self.tok.is_word("suser_sname", "has_perms_by_name"):
            calls = [self.function_call()]
            while self.accept_sym(","):
                calls.append(self.function_call())
            return "functions", (calls,)
        if self.accept("count_big"):
            self.expect_sym("(")
            self.expect_sym("*")
            self.expect_sym(")")
            self.expect("from")
            return "count", (self.dotted(),)
        if self.accept_sym("*"):
            self.expect("from")
            return "select_all", (self.dotted(),)
        select = [self.dotted(2)]
        while self.accept_sym(","):
            select.append(self.dotted(2))
        self.expect("from")
        start = self.i
        source = self.dotted()
        if [key(p) for p in source] == ["sys", "databases"]:
            return self.select_databases(select)
        self.i = start
        return self.select_tables(select)

    def function_call(self) -> tuple[str, list]:
        """SUSER_SNAME() or HAS_PERMS_BY_NAME(securable, class, permission), literal arguments only."""
        name = self.expect("suser_sname", "has_perms_by_name")
        self.expect_sym("(")
        args = []
        if not self.accept_sym(")"):
            args.append(self.literal())
            while self.accept_sym(","):
                args.append(self.literal())
            self.expect_sym(")")
        if len(args) != (0 if name == "suser_sname" else 3):
            raise self.error()
        return name, args

    def select_databases(self, select: list[list[str]]) -> tuple[str, tuple]:
        columns = []
        for parts in select:
            if len(parts) != 1 or key(parts[0]) not in ("name", "user_access_desc"):
                raise syntax_error(".".join(parts))
            columns.append(key(parts[0]))
        where = None
        if self.accept("where"):
            if not self.is_name(self.tok, "name"):
                raise self.error()
            self.advance()
            self.expect_sym("=")
            where = self.string()
        return "list_databases", (columns, where)

    def catalog_view(self) -> tuple[str, str, str]:
        """`<db>.sys.tables|schemas [AS] alias` -> (db, view, alias)."""
        parts = self.dotted()
        if len(parts) != 3 or key(parts[1]) != "sys" or key(parts[2]) not in ("tables", "schemas"):
            raise syntax_error(".".join(parts))
        alias = parts[2]
        if self.accept("as") or (self.tok.kind in ("word", "qid") and not self.tok.is_word(*_NOT_AN_ALIAS)):
            alias = self.ident()
        return parts[0], key(parts[2]), key(alias)

    def select_tables(self, select: list[list[str]]) -> tuple[str, tuple]:
        first = self.catalog_view()
        self.accept("inner")
        self.expect("join")
        second = self.catalog_view()
        views = {first[2]: first[1], second[2]: second[1]}
        if {first[1], second[1]} != {"tables", "schemas"} or len(views) != 2 or key(first[0]) != key(second[0]):
            raise self.error()
        self.expect("on")
        joined = set()
        for i in range(2):
            if i:
                self.expect_sym("=")
            ref = self.dotted(2)
            if len(ref) != 2 or key(ref[0]) not in views or key(ref[1]) != "schema_id":
                raise syntax_error(".".join(ref))
            joined.add(views[key(ref[0])])
        if joined != {"tables", "schemas"}:
            raise self.error()
        columns = []
        for ref in select:
            if len(ref) != 2 or key(ref[0]) not in views or key(ref[1]) != "name":
                raise syntax_error(".".join(ref))
            columns.append(views[key(ref[0])])
        where = None
        if self.accept("where"):
            ref = self.dotted(2)
            if len(ref) != 2 or key(ref[0]) not in views or key(ref[1]) != "name":
                raise syntax_error(".".join(ref))
            self.expect_sym("=")
            where = (views[key(ref[0])], self.string())
        return "list_tables", (first[0], columns, where)
