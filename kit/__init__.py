"""Loop Lab: a workshop kit on event loops, async pytest fixtures and asyncpg."""

__version__ = "0.1.0"
