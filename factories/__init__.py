"""The reference domain: an online shop with organizations, users, products, orders and payments
in PostgreSQL, and audit events and notifications in MongoDB.

- ``seedkit_reference.models``: SQLAlchemy models; ``seedkit_reference.migrations``: their Alembic migrations.
- ``seedkit_reference.documents``: Mongo collections and indexes.
- ``seedkit_reference.model_factories`` / ``seedkit_reference.document_factories``: seedkit factories for both.
- ``factories.packs``: fixture packs; ``factories/seedkit.toml``: the profiles.
"""
