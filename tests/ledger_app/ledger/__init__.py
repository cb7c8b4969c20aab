"""The ledger test application (see tests/ledger_app/seedkit.toml)."""
