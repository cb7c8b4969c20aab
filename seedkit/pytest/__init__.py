"""seedkit's pytest front end: the plugin's hooks and options (:mod:`.plugin`), one process's
seeded databases (:mod:`.run`), how they are filled (:mod:`.seeding`) and the shared embedded
server (:mod:`.server`)."""
