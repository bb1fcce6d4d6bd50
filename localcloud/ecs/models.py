"""ECS 2014-05-26: instances, disks as image files, incremental snapshots. (skeleton, being written)"""
from ..cloud import Product


class Ecs(Product):
    name = "ecs"
    version = "2014-05-26"

    def create_instance(self, tags: dict[str, str]) -> dict:
        raise NotImplementedError

    def create_disk(self, instance_id: str, size: int, tags: dict[str, str], fill: bool = True) -> dict:
        raise NotImplementedError
