"""The generation core: the injected clock and IDs, the deterministic context that owns every
source of variation, deterministic factory declarations and the Faker speed-up. No I/O: nothing
here opens a connection or a file."""
