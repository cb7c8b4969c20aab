"""Factory bases: factory_boy factories that persist to PostgreSQL (:mod:`.alchemy`) or MongoDB
(:mod:`.mongo`), the session binding they write through (:mod:`.binding`) and the lean step
builder of the bulk path (:mod:`.builder`)."""
