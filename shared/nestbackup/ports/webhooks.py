"""The webhook port: POST a batch of signed notifications under one total deadline. `adapters/webhook.py`
implements it (addresses checked after DNS resolution, no redirects)."""
from __future__ import annotations

from typing import NamedTuple, Protocol


class Post(NamedTuple):
    """One webhook delivery to make."""
    key: str
    url: str
    body: bytes
    headers: dict[str, str]


class Outcome(NamedTuple):
    """What became of one delivery."""
    key: str
    delivered: bool
    detail: str                 # "HTTP 204", or why it failed
    refused: bool = False       # the URL or its address may not be called: retrying will not help


class Webhooks(Protocol):
    def post_all(self, posts: list[Post], deadline_seconds: float, allow_private: bool = False) -> list[Outcome]: ...
