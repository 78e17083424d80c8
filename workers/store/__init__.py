"""The job store: SQLAlchemy models, per-process engines, migrations, and the record writes."""
