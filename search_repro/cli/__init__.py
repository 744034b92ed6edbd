"""The reproduction's ``moga-zoo`` subcommands (``lut``, ``supernet``, ``search``).

Each module has ``COMMANDS`` and ``register(subparsers)``, and is declared in setup.cfg under the
``moga_zoo.commands`` entry-point group, through which ``moga_zoo.cli`` finds it.
"""
