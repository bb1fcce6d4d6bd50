"""A local SQL Server stand-in for tests: the real TDS wire protocol over a JSON catalog.

The unmodified `pytds` client connects to `MssqlServer` as it would to SQL Server. Behind the wire
there is no query engine, only the small T-SQL statement set in `lexer.SUPPORTED`; see the module
docstrings of `catalog`, `lexer`, `parser`, `engine`, `packets`, `tokens` and `server` for what is real and what
is not.
"""
from .catalog import Catalog, SqlError
from .server import MssqlServer

__all__ = ["Catalog", "MssqlServer", "SqlError"]
