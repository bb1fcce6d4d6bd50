"""Database names of a restore: validation, quoting, derived names, qualifier rewriting. Pure, no servers."""
import ast
import random
import sys
from pathlib import Path

import pytest

from nestbackup.decisions import dbnames
from nestbackup.decisions.dbnames import (
    aside_name,
    name_length,
    quote,
    quote_mysql,
    quote_pg,
    restored_name,
    rewrite_schema_qualifiers,
    short_id,
    strip_definer,
    validate_name,
)
from nestbackup.errors import ValidationError
from nestbackup.model.engines import engine_of

RID = "restore-018f2c3a4b5d9e8f7a6b"
ENGINES = ["MySQL", "PostgreSQL", "SQLServer"]


def test_the_module_is_pure():
    tree = ast.parse(Path(dbnames.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names), imported


# -- validation ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", ["", "a\x00b", None])
def test_empty_nul_and_non_strings_are_refused(engine, name):
    with pytest.raises(ValidationError):
        validate_name(name, engine)


def test_length_limits():
    assert validate_name("a" * 64, "MySQL") and validate_name("é" * 64, "MySQL")          # characters
    with pytest.raises(ValidationError, match="64 characters"):
        validate_name("a" * 65, "MySQL")
    assert validate_name("a" * 63, "PostgreSQL") and validate_name("é" * 31 + "a", "PostgreSQL")   # bytes
    with pytest.raises(ValidationError, match="63 bytes"):
        validate_name("é" * 32, "PostgreSQL")
    with pytest.raises(ValidationError):
        validate_name("a" * 64, "PostgreSQL")
    assert validate_name("a" * 128, "SQLServer")
    with pytest.raises(ValidationError):
        validate_name("a" * 129, "SQLServer")


@pytest.mark.parametrize("name", ["we`ird", 'dq"x', "semi;colon", "sp ace", "dash -- comment", "per%cent",
                                  "q'uote", "ünïcødé 中文", "a.b/c\\d", " leading", "DROP DATABASE x;--"])
@pytest.mark.parametrize("engine", ENGINES)
def test_anything_else_is_allowed(name, engine):
    assert validate_name(name, engine) == name


def test_mysql_refuses_what_its_server_refuses():
    with pytest.raises(ValidationError, match="Basic Multilingual Plane"):
        validate_name("emoji😀", "MySQL")
    with pytest.raises(ValidationError, match="ends with a space"):
        validate_name("trailing ", "MySQL")
    assert validate_name("emoji😀", "PostgreSQL") and validate_name("trailing ", "PostgreSQL")


def test_engines():
    assert engine_of("mysql").name == engine_of("MariaDB").name == "MySQL"
    assert engine_of("PostgreSQL").name == engine_of("postgres").name == "PostgreSQL"
    assert engine_of("SQL Server").name == "SQLServer"
    with pytest.raises(ValidationError):
        engine_of("Oracle")


# -- quoting ------------------------------------------------------------------------------------------------------

def test_quoting_doubles_the_quote_character_only():
    assert quote_mysql("a`b") == "`a``b`" and quote_mysql('a"b') == '`a"b`'
    assert quote_pg('a"b') == '"a""b"' and quote_pg("a`b") == '"a`b"'
    assert quote("a]b", "SQLServer") == "[a]]b]"
    assert quote_mysql("x`; DROP DATABASE y; -- ") == "`x``; DROP DATABASE y; -- `"
    for q in (quote_mysql, quote_pg):
        with pytest.raises(ValidationError):
            q("a\x00")


def test_quoting_round_trips_random_names():
    rng = random.Random(7)
    alphabet = "ab`\"';-% \\é中\n\t./"
    for _ in range(500):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20)))
        qm, qp = quote_mysql(name), quote_pg(name)
        assert qm[0] == qm[-1] == "`" and qp[0] == qp[-1] == '"'
        assert qm[1:-1].replace("``", "`") == name and qm[1:-1].count("`") == 2 * name.count("`")
        assert qp[1:-1].replace('""', '"') == name and qp[1:-1].count('"') == 2 * name.count('"')


# -- derived names ------------------------------------------------------------------------------------------------

def test_the_naming_rule():
    assert short_id(RID) == "9e8f7a6b"
    assert restored_name("shop", RID, "MySQL") == "shop__rst_9e8f7a6b"
    assert aside_name("shop", RID, "PostgreSQL") == "shop__pre_9e8f7a6b"
    assert short_id("R-ABCDEFGH12") == "cdefgh12"                     # letters/digits only, lowercased
    assert len(short_id("r1")) == 8 and short_id("r1") == short_id("r1") != short_id("r2")   # hashed when short
    with pytest.raises(ValidationError):
        short_id("")


@pytest.mark.parametrize("engine", ENGINES)
def test_derived_names_are_deterministic_distinct_and_within_the_limit(engine):
    rng = random.Random(engine)
    pool = "abcXYZ_`\"';%- é中ü"
    for _ in range(300):
        limit = engine_of(engine).name_limit
        length = rng.randint(1, limit if engine != "PostgreSQL" else 21)
        db = "".join(rng.choice(pool) for _ in range(length)).rstrip(" ") or "x"
        if name_length(db, engine) > limit:
            continue
        rid = f"restore-{rng.getrandbits(80):020x}"
        r, a = restored_name(db, rid, engine), aside_name(db, rid, engine)
        assert r != a and r != db and a != db
        assert r == restored_name(db, rid, engine) and a == aside_name(db, rid, engine)
        for name in (r, a):
            assert validate_name(name, engine) and name_length(name, engine) <= limit
        assert r.endswith("__rst_" + short_id(rid)) and a.endswith("__pre_" + short_id(rid))


@pytest.mark.parametrize("engine,db", [("MySQL", "x" * 64), ("MySQL", "é" * 60), ("PostgreSQL", "x" * 63),
                                       ("PostgreSQL", "é" * 31), ("PostgreSQL", "中" * 21), ("SQLServer", "s" * 128)])
def test_long_names_are_cut_and_hashed(engine, db):
    a = aside_name(db, RID, engine)
    assert name_length(a, engine) <= engine_of(engine).name_limit and a.endswith("__pre_9e8f7a6b")
    a.encode("utf-8")                                            # never cut inside a character
    cut = a[: -len("__pre_9e8f7a6b")]
    assert db.startswith(cut[:-7]) and cut[-7] == "_"
    other = db[:-1] + ("y" if db[-1] != "y" else "z")           # same long prefix, other name: other hash
    assert aside_name(other, RID, engine) != a


def test_a_name_that_fits_is_not_cut():
    db = "d" * (64 - len("__pre_9e8f7a6b"))
    assert aside_name(db, RID, "MySQL") == db + "__pre_9e8f7a6b"
    assert aside_name(db + "d", RID, "MySQL") != db + "d__pre_9e8f7a6b"


# -- qualifier rewriting ------------------------------------------------------------------------------------------

def rw(sql, old="shop", new="shop__pre_1", **kw):
    return rewrite_schema_qualifiers(sql, old, new, **kw)


def test_qualifiers_are_rewritten_bare_or_quoted_and_the_new_name_is_quoted():
    assert rw("INSERT INTO shop.audit VALUES (1)") == "INSERT INTO `shop__pre_1`.audit VALUES (1)"
    assert rw("INSERT INTO `shop`.`audit` VALUES (1)") == "INSERT INTO `shop__pre_1`.`audit` VALUES (1)"
    assert rw("select shop . t") == "select `shop__pre_1` . t"
    assert rw("select shop.t.c from shop.t") == "select `shop__pre_1`.t.c from `shop__pre_1`.t"
    assert rw("call shop.p(); select shop.f(1)") == "call `shop__pre_1`.p(); select `shop__pre_1`.f(1)"
    assert rw("x", new="a`b;--") == "x"
    assert rw("select shop.t", new="a`b;--") == "select `a``b;--`.t"


def test_what_is_not_a_qualifier_is_left_alone():
    sql = ("select 'shop.t', \"shop.t\", @shop.t, @@shop.x, t.shop, shop, shopx.t, xshop.t, other.shop.t "
           "/* shop.t */ # shop.t\n-- shop.t\n")
    assert rw(sql) == sql
    assert rw("CREATE DEFINER=`shop`@`%` TRIGGER x") == "CREATE DEFINER=`shop`@`%` TRIGGER x"
    assert rw("select 'it''s shop.t', 'a\\'shop.t'") == "select 'it''s shop.t', 'a\\'shop.t'"


def test_sql_mode_details():
    assert rw('select "shop".t', ansi_quotes=True) == "select `shop__pre_1`.t"
    assert rw('select "shop".t') == 'select "shop".t'
    # without backslash escapes, 'a\' ends the string and shop.t after it is code
    assert rw("select 'a\\', shop.t", backslash_escapes=False) == "select 'a\\', `shop__pre_1`.t"
    assert rw("select SHOP.t") == "select SHOP.t"
    assert rw("select SHOP.t", fold_case=True) == "select `shop__pre_1`.t"


def test_executable_comments_are_code():
    assert rw("/*!50003 select shop.t */") == "/*!50003 select `shop__pre_1`.t */"
    assert rw("/*M!100100 select shop.t */") == "/*M!100100 select `shop__pre_1`.t */"


def test_a_table_named_like_its_schema():
    tables, objects = {"shop", "items"}, {"shop", "items", "p"}
    sql = "select shop.id from shop join items on shop.id = items.id where shop.items.id > 0; call shop.p()"
    assert rw(sql, schema_tables=tables, schema_objects=objects) == (
        "select shop.id from shop join items on shop.id = items.id where `shop__pre_1`.items.id > 0; "
        "call `shop__pre_1`.p()")


def test_hostile_schema_names():
    old = "we`ird; -- %s"
    sql = f"insert into {quote_mysql(old)}.audit values ('{old}')"
    assert rw(sql, old=old, new="n") == "insert into `n`.audit values ('we`ird; -- %s')"


def test_strip_definer():
    assert strip_definer("CREATE DEFINER=`root`@`localhost` TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET @a=1") \
        == "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET @a=1"
    assert strip_definer("CREATE ALGORITHM=UNDEFINED DEFINER=`ro``ot`@`%` SQL SECURITY DEFINER VIEW `v` AS select 1") \
        == "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select 1"
    assert strip_definer("create definer='u'@'h' procedure p() select 1") == "create procedure p() select 1"
    assert strip_definer("CREATE DEFINER=`a_role` EVENT e ON SCHEDULE EVERY 1 DAY DO select 1") \
        == "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO select 1"
    assert strip_definer("CREATE FUNCTION f() RETURNS int RETURN 1") == "CREATE FUNCTION f() RETURNS int RETURN 1"
    body = "CREATE PROCEDURE p() select 'DEFINER=`x`@`y` '"
    assert strip_definer(body) == body
