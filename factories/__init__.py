"""The reference domain: an online shop with organizations, users, products, orders and payments
in PostgreSQL, and audit events and notifications in MongoDB.

- ``factories.models``: SQLAlchemy models; ``factories.migrations``: their Alembic migrations.
- ``factories.documents``: Mongo collections and indexes.
- ``factories.model_factories`` / ``factories.document_factories``: seedkit factories for both.
- ``factories.packs``: fixture packs; ``factories/seedkit.toml``: the profiles.
"""
