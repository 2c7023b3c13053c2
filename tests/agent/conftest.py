from tests.ingest.conftest import server

__all__ = ["server"]
