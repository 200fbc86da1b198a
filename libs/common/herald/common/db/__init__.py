"""PostgreSQL access: models, engine and unit of work, migrations."""
