"""ClickHouse storage: one client from a DSN (chdb:// embedded or http(s):// server),
versioned .sql migrations, and named queries loaded from .sql files."""

from storage.client import Storage, StorageError, open_storage
from storage.sql_files import load_query

__all__ = ["Storage", "StorageError", "open_storage", "load_query"]
