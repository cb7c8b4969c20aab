"""A MongoDB wire-protocol server for the test suite's Mongo lane: mongoeco's, over its memory engine.

Runs under Python >= 3.13 in its own virtual environment (``mongoeco[wire]``, pinned in
``requirements.txt`` beside this file); :mod:`lane` starts it. It listens on 127.0.0.1 on a free
port, prints its URL as its first line of output, and stops when its standard input closes (the
lane's process ended, however it ended) or after ``--lifetime`` seconds, whichever comes first.

One difference from mongod is bridged here, because seedkit is right and the emulator is not:
pymongo sends ``renameCollection`` to the ``admin`` database (mongod accepts it only there), and
mongoeco 4.11 then refuses it as "only supports namespaces in the current database". The command
is routed to its source namespace's database, which is what mongod does. README's "What was
verified where" lists this and the emulator's other differences.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any


def route_rename_to_its_database() -> None:
    """Make ``renameCollection`` sent to ``admin`` act on the database its namespaces name."""
    from mongoeco.wire.executor import WireCommandExecutor

    build = WireCommandExecutor._build_request_context

    def routed(self: Any, body: dict[str, Any], *, db_name: str | None = None, **options: Any) -> Any:
        source = body.get("renameCollection")
        if (db_name or body.get("$db")) == "admin" and isinstance(source, str) and "." in source:
            body = {**body, "$db": source.split(".", 1)[0]}
            db_name = None
        return build(self, body, db_name=db_name, **options)

    WireCommandExecutor._build_request_context = routed  # type: ignore[method-assign]


async def serve(lifetime: float) -> None:
    """Serve until standard input closes or ``lifetime`` seconds pass."""
    from mongoeco.wire import AsyncMongoEcoProxyServer

    loop = asyncio.get_running_loop()
    async with AsyncMongoEcoProxyServer(host="127.0.0.1", port=0) as server:
        print(server.address.uri, flush=True)
        stdin = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
        try:
            await asyncio.wait_for(stdin.read(), timeout=lifetime)
        except TimeoutError:
            print(f"mongo wire server: stopping after its lifetime of {lifetime:.0f}s", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lifetime", type=float, default=1800.0, help="seconds before it stops by itself")
    args = parser.parse_args()
    route_rename_to_its_database()
    asyncio.run(serve(args.lifetime))


if __name__ == "__main__":
    main()
