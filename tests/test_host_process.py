"""Importing seedkit, and using its factories, leaves the host process as it was.

Each check runs in a fresh interpreter, as an application that installed seedkit would: its
own factory_boy factory has advanced its sequence, it has drawn from factory_boy's and Faker's
random, it may have frozen objects for the garbage collector. Then seedkit is imported (every
module), and the same state is compared.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

HOST_STATE = textwrap.dedent(
    """
    import gc, hashlib, json, pickle, sys
    import factory, factory.random, faker.generator
    from faker import Faker
    from faker.generator import Generator
    from faker.providers import BaseProvider
    from faker.providers.date_time import Provider as DateTimeProvider
    from faker.providers.lorem import Provider as LoremProvider
    from sqlalchemy.orm import Session

    class Plain(factory.Factory):
        class Meta:
            model = dict
        n = factory.Sequence(lambda n: n)

    class NeverUsed(factory.Factory):
        class Meta:
            model = dict
        n = factory.Sequence(lambda n: n)

    for _ in range(3):
        Plain()
    factory.random.randgen.random()
    faker.generator.random.random()

    SESSION_EVENTS = [name for name in dir(Session.dispatch) if not name.startswith("_")]

    def state():
        return {
            "plain_next": Plain._meta._counter.seq,
            "never_used_counter": NeverUsed._meta._counter is None,
            "factory_random": hashlib.sha256(pickle.dumps(factory.random.randgen.getstate())).hexdigest(),
            "faker_random": hashlib.sha256(pickle.dumps(faker.generator.random.getstate())).hexdigest(),
            "faker_methods": {  # every method of the classes whose hot paths seedkit replaces while seeding
                f"{owner.__module__}.{owner.__qualname__}.{name}": repr(value)
                for owner in (BaseProvider, DateTimeProvider, LoremProvider, Generator, Faker, factory.Faker)
                for name, value in vars(owner).items()
                if callable(value) or isinstance(value, classmethod | staticmethod)
            },
            "session_listeners": {
                name: len(getattr(Session.dispatch, name)) for name in SESSION_EVENTS
                if hasattr(getattr(Session.dispatch, name), "__len__")
            },
            "sys_path": list(sys.path),
            "gc": [gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()],
        }
    """
)


def _run(body: str) -> dict[str, object]:
    code = HOST_STATE + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_importing_every_seedkit_module_changes_nothing() -> None:
    result = _run(
        """
        import importlib, pkgutil
        before = state()
        import seedkit
        names = [m.name for m in pkgutil.walk_packages(seedkit.__path__, "seedkit.")]
        for name in names:
            importlib.import_module(name)
        import seedkit_reference.model_factories, seedkit_reference.document_factories
        print(json.dumps({"before": before, "after": state(), "modules": len(names)}))
        """
    )
    assert int(str(result["modules"])) > 50  # every module of the package was imported
    assert result["after"] == result["before"]


def test_a_seedkit_factory_used_outside_deterministic_gives_the_host_state_back() -> None:
    result = _run(
        """
        before = state()
        import seedkit
        from seedkit import MongoFactory, SQLAlchemyFactory

        class Doc(MongoFactory):
            class Meta:
                collection = "docs"
            name = factory.Faker("name")
            n = factory.Sequence(lambda n: n)

        first = [Doc.build(), Doc.build()]
        with seedkit.deterministic(seed=0):
            again = [Doc.build(), Doc.build()]
            import faker
            made_inside = faker.Faker()  # binds the provider methods in use while it is made
        made_inside.seed_instance(1)  # its own random: the host's is left alone
        made_inside.random_element(("a", "b"))
        print(json.dumps({"before": before, "after": state(), "same": first == again}, default=str))
        """
    )
    assert result["same"] is True  # outside any block, the default context (seed 0) is used
    assert result["after"] == result["before"]


def test_bulk_collection_leaves_objects_the_host_froze_frozen() -> None:
    result = _run(
        """
        from seedkit.bulk.seeder import _collecting_per_chunk

        gc.freeze()  # e.g. a pre-fork server
        before = state()
        with _collecting_per_chunk():
            enabled_inside = gc.isenabled()
        print(json.dumps({"before": before, "after": state(), "inside": enabled_inside}))
        """
    )
    assert result["inside"] is False
    assert result["after"] == result["before"]
