"""``python -m services.fakes.telegram``: the fake on its own (see :mod:`.cli`)."""

from .cli import main

if __name__ == "__main__":
    main()
