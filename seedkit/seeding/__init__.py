"""Orchestration: configuration and profiles, where a command writes (targets), migrations, the
project's own imports, template databases, and the runner that seeds a profile."""
