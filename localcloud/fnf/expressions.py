"""The CloudFlow expression language (new spec), as far as the local cloud needs it.

One concept in one module: the tokenizer, the parser and the evaluator of this small grammar, and its built-in
functions, change together (a new operator or built-in touches all of them) and are used only through
`compile_expression`; split apart, each part would be a few dozen lines that means nothing alone.

Grammar (precedence low to high)::

    expr    := or
    or      := and ('||' and)*
    and     := not ('&&' not)*
    not     := '!' not | compare
    compare := postfix (('==' | '!=' | '>' | '>=' | '<' | '<=') postfix)?
    postfix := primary ('.' key | '[' expr ']')*
    primary := number | string | true | false | null | variable | call | '(' expr ')'
    string  := "..." (JSON escapes) | '...' | `...` (raw)
    variable:= $Input | $Output | $Context | $Global
    call    := name '(' [expr (',' expr)*] ')'

Paths: reading a key an object does not have, an index past the end of an array, or anything of null is an error
(`MissingField`, an `ExpressionError`), and so is reading a key of a string, number or boolean. Whether CloudFlow
fails there or reads null is UNCONFIRMED (no document says); failing is the reading under which a flow that works
here also works there. `get(container, key[, default])` is the lenient read: null (or the default) when missing.
Comparisons: numbers with numbers, strings with strings (lexicographic); `==`/`!=` between
other values compare JSON values; an ordering between mismatched types is false. A Choice condition holds only if
it evaluates to the boolean true.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import random
import re
import uuid as _uuid
from typing import Any, Callable

VARIABLES = ("$Input", "$Output", "$Context", "$Global")
MAX_CALL_DEPTH = 10


class ExpressionError(Exception):
    """An expression that cannot be parsed (at load) or evaluated (at run time)."""


class MissingField(ExpressionError):
    """A path reads a field (or array element) that is not there."""


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
     |(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
     |(?P<var>\$[A-Za-z_]\w*)
     |(?P<op>==|!=|>=|<=|&&|\|\||[<>!().,\[\]])
     |(?P<ident>[A-Za-z_][\w-]*)
    )""", re.VERBOSE)


def _tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"unexpected character {text[pos:].lstrip()[:1]!r} at position {pos} in {text!r}")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "num":
            value = float(value) if any(c in value for c in ".eE") else int(value)
        elif kind == "str":
            if value[0] == "`":
                value = value[1:-1]
            elif value[0] == '"':
                value = json.loads(value)
            else:
                value = json.loads('"' + value[1:-1].replace("\\'", "'").replace('"', '\\"') + '"')
        tokens.append((kind, value))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.variables: set[str] = set()

    def peek(self, value: str | None = None):
        if self.pos >= len(self.tokens):
            return None
        tok = self.tokens[self.pos]
        if value is not None and not (tok[0] == "op" and tok[1] == value):
            return None
        return tok

    def take(self, value: str | None = None):
        tok = self.peek(value)
        if tok is None:
            want = f"{value!r}" if value else "a value"
            raise ExpressionError(f"expected {want} at the end of {self.text!r}" if self.pos >= len(self.tokens)
                                  else f"expected {want}, got {self.tokens[self.pos][1]!r} in {self.text!r}")
        self.pos += 1
        return tok

    def parse(self):
        if not self.tokens:
            raise ExpressionError("empty expression")
        node = self.or_(0)
        if self.pos != len(self.tokens):
            raise ExpressionError(f"unexpected {self.tokens[self.pos][1]!r} in {self.text!r}")
        return node

    def or_(self, depth):
        node = self.and_(depth)
        while self.peek("||"):
            self.take()
            node = ("or", node, self.and_(depth))
        return node

    def and_(self, depth):
        node = self.not_(depth)
        while self.peek("&&"):
            self.take()
            node = ("and", node, self.not_(depth))
        return node

    def not_(self, depth):
        if self.peek("!"):
            self.take()
            return ("not", self.not_(depth))
        return self.compare(depth)

    def compare(self, depth):
        node = self.postfix(depth)
        for op in ("==", "!=", ">=", "<=", ">", "<"):
            if self.peek(op):
                self.take()
                return ("cmp", op, node, self.postfix(depth))
        return node

    def postfix(self, depth):
        node = self.primary(depth)
        while True:
            if self.peek("."):
                self.take()
                kind, key = self.take()
                if kind not in ("ident", "num") or (kind == "num" and not isinstance(key, int)):
                    raise ExpressionError(f"expected a field name after '.', got {key!r} in {self.text!r}")
                node = ("get", node, ("lit", str(key) if kind == "ident" else key))
            elif self.peek("["):
                self.take()
                key = self.or_(depth)
                self.take("]")
                node = ("get", node, key)
            else:
                return node

    def primary(self, depth):
        kind, value = self.take()
        if kind in ("num", "str"):
            return ("lit", value)
        if kind == "var":
            if value not in VARIABLES:
                raise ExpressionError(f"unknown variable {value} in {self.text!r} (known: {', '.join(VARIABLES)})")
            self.variables.add(value)
            return ("var", value[1:])
        if kind == "ident":
            if value in ("true", "false", "null") and not self.peek("("):
                return ("lit", {"true": True, "false": False, "null": None}[value])
            if value not in FUNCTIONS:
                raise ExpressionError(f"unknown function or bare word {value!r} in {self.text!r}")
            if depth + 1 > MAX_CALL_DEPTH:
                raise ExpressionError(f"built-in calls nest deeper than {MAX_CALL_DEPTH} levels in {self.text!r}")
            self.take("(")
            args = []
            if not self.peek(")"):
                args.append(self.or_(depth + 1))
                while self.peek(","):
                    self.take()
                    args.append(self.or_(depth + 1))
            self.take(")")
            lo, hi, _ = FUNCTIONS[value]
            if not lo <= len(args) <= (hi if hi is not None else len(args)):
                want = str(lo) if lo == hi else f"{lo} to {hi if hi is not None else 'any number of'}"
                raise ExpressionError(f"{value}() takes {want} argument(s), got {len(args)} in {self.text!r}")
            return ("call", value, args)
        if kind == "op" and value == "(":
            node = self.or_(depth)
            self.take(")")
            return node
        raise ExpressionError(f"unexpected {value!r} in {self.text!r}")


class Expression:
    """A parsed expression: `variables` lists the $-variables it reads."""

    def __init__(self, text: str):
        if not isinstance(text, str):
            raise ExpressionError(f"an expression must be a string, got {type(text).__name__} {text!r}")
        parser = _Parser(text)
        self.text = text
        self.tree = parser.parse()
        self.variables = frozenset(parser.variables)

    def evaluate(self, env: dict[str, Any]) -> Any:
        return _eval(self.tree, env, self.text)


@functools.lru_cache(maxsize=4096)
def compile_expression(text: str) -> Expression:
    return Expression(text)


def _get(container, key, text, strict=True):
    if container is None:
        if not strict:
            return None
        raise MissingField(f"cannot read field {key!r} of null in {text!r}")
    if isinstance(container, dict):
        if not isinstance(key, str):
            key = json.dumps(key) if not isinstance(key, (int, float)) else str(key)
        if key not in container and strict:
            raise MissingField(f"field {key!r} does not exist (fields: {', '.join(sorted(container)) or 'none'}) "
                               f"in {text!r}")
        return container.get(key)
    if isinstance(container, list):
        if isinstance(key, bool) or not isinstance(key, int):
            if isinstance(key, str) and key.lstrip("-").isdigit():
                key = int(key)
            else:
                raise ExpressionError(f"an array index must be an integer, got {key!r} in {text!r}")
        if -len(container) <= key < len(container):
            return container[key]
        if strict:
            raise MissingField(f"index {key} is out of range of an array of {len(container)} in {text!r}")
        return None
    raise ExpressionError(f"cannot read field {key!r} of {type(container).__name__} {container!r} in {text!r}")


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _compare(op, a, b):
    if op in ("==", "!="):
        if isinstance(a, bool) != isinstance(b, bool):
            equal = False
        else:
            equal = a == b
        return equal if op == "==" else not equal
    if not ((_is_num(a) and _is_num(b)) or (isinstance(a, str) and isinstance(b, str))):
        return False
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


def _eval(node, env, text):
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "var":
        if node[1] not in env:
            raise ExpressionError(f"${node[1]} is not available here ({text!r})")
        return env[node[1]]
    if kind == "get":
        return _get(_eval(node[1], env, text), _eval(node[2], env, text), text)
    if kind == "cmp":
        return _compare(node[1], _eval(node[2], env, text), _eval(node[3], env, text))
    if kind == "and":
        return _eval(node[1], env, text) is True and _eval(node[2], env, text) is True
    if kind == "or":
        return _eval(node[1], env, text) is True or _eval(node[2], env, text) is True
    if kind == "not":
        return _eval(node[1], env, text) is not True
    if kind == "call":
        args = [_eval(a, env, text) for a in node[2]]
        try:
            return FUNCTIONS[node[1]][2](*args)
        except ExpressionError:
            raise
        except Exception as err:  # a built-in given the wrong kind of value
            raise ExpressionError(f"{node[1]}() failed in {text!r}: {err}") from None
    raise AssertionError(kind)


# -- built-in functions


def _text(v) -> str:
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def _format(fmt, *args):
    if not isinstance(fmt, str):
        raise ExpressionError("format() needs a format string")
    parts = fmt.split("{}")
    if len(parts) - 1 != len(args):
        raise ExpressionError(f"format() has {len(parts) - 1} placeholder(s) for {len(args)} argument(s)")
    out = [parts[0]]
    for arg, part in zip(args, parts[1:]):
        out += [_text(arg), part]
    return "".join(out)


def _length(v):
    if isinstance(v, (str, list, dict)):
        return len(v)
    raise ExpressionError(f"length() needs a string, array or object, got {v!r}")


def _json_merge(a, b):
    if not isinstance(a, dict) or not isinstance(b, dict):
        raise ExpressionError("jsonMerge() needs two objects")
    return {**a, **b}


def _to_array(*vs):
    if len(vs) == 1:
        return vs[0] if isinstance(vs[0], list) else [vs[0]]
    return list(vs)


def _array_contains(arr, v):
    if not isinstance(arr, list):
        raise ExpressionError("arrayContains() needs an array")
    return any(_compare("==", x, v) for x in arr)


def _array_unique(arr):
    out = []
    for x in arr:
        if not any(_compare("==", x, y) for y in out):
            out.append(x)
    return out


def _string_to_json(s):
    if not isinstance(s, str):
        raise ExpressionError("stringToJson() needs a string")
    return json.loads(s)


def _int_add(a, b):
    if not (isinstance(a, int) and isinstance(b, int)) or isinstance(a, bool) or isinstance(b, bool):
        raise ExpressionError("intAdd() needs two integers")
    return a + b


def _getf(container, key, *default):
    value = _get(container, key, "get()", strict=False)
    return default[0] if value is None and default else value


def _split(s, sep):
    return s.split(sep)


def _regex_match(s, pattern):
    return re.search(pattern, s) is not None


def _hash(s, algorithm="SHA-256"):
    algo = {"MD5": "md5", "SHA-1": "sha1", "SHA1": "sha1", "SHA-256": "sha256", "SHA256": "sha256",
            "SHA-512": "sha512", "SHA512": "sha512"}.get(str(algorithm).upper())
    if algo is None:
        raise ExpressionError(f"hash() does not know the algorithm {algorithm!r}")
    return hashlib.new(algo, _text(s).encode()).hexdigest()


def _random_int(lo, hi):
    return random.randint(lo, hi)


FUNCTIONS: dict[str, tuple[int, int | None, Callable]] = {
    "format": (1, None, _format),
    "length": (1, 1, _length),
    "jsonMerge": (2, 2, _json_merge),
    "toArray": (1, None, _to_array),
    "uuid": (0, 0, lambda: str(_uuid.uuid4())),
    "arrayContains": (2, 2, _array_contains),
    "arrayUnique": (1, 1, _array_unique),
    "stringToJson": (1, 1, _string_to_json),
    "fromJSON": (1, 1, _string_to_json),
    "jsonToString": (1, 1, _text),
    "intAdd": (2, 2, _int_add),
    "get": (2, 3, _getf),
    "split": (2, 2, _split),
    "regexMatchString": (2, 2, _regex_match),
    "mapKeys": (1, 1, lambda m: list(m.keys())),
    "mapValues": (1, 1, lambda m: list(m.values())),
    "fromBase64": (1, 1, lambda s: base64.b64decode(s).decode()),
    "toBase64": (1, 1, lambda s: base64.b64encode(_text(s).encode()).decode()),
    "hash": (1, 2, _hash),
    "randomInt": (2, 2, _random_int),
}
