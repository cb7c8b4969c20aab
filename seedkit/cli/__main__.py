"""``python -m seedkit.cli``: the same as the ``seedkit`` script."""

from seedkit.cli import main

if __name__ == "__main__":
    main()
