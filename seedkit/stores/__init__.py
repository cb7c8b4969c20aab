"""The stores: connecting to PostgreSQL (external or embedded) and MongoDB, URLs, the safety
guard in front of destructive operations, reflection, administration (create, clone, drop,
truncate), the Mongo undo log and baselines, and the content fingerprint of both stores."""
