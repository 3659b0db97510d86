"""One schema for SQLite and PostgreSQL (SQLAlchemy Core), repositories and the unit of work."""
