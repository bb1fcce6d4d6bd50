"""The webhook port in memory: every post is recorded and answered as the test says."""
from __future__ import annotations

from nestbackup.ports.webhooks import Outcome, Post


class MemoryWebhooks:
    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.failing = False

    def post_all(self, posts: list[Post], deadline_seconds: float, allow_private: bool = False) -> list[Outcome]:
        self.posts += posts
        return [Outcome(p.key, not self.failing, "HTTP 500" if self.failing else "HTTP 204") for p in posts]
