"""RDS 2014-08-15: instances backed by real PostgreSQL / MariaDB servers. (skeleton, being written)"""
from ..cloud import Product


class Rds(Product):
    name = "rds"
    version = "2014-08-15"

    def create_instance(self, engine: str, dsn: str | None, tags: dict[str, str]) -> dict:
        raise NotImplementedError
