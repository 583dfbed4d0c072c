"""Persistence: the state database (SQLAlchemy) and the event lake (Parquet + DuckDB)."""
