"""One module per CLI sub-command.

Each module defines ``NAME`` (the sub-command), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. :mod:`sen2val_stac.cli`
discovers them, so adding a command never touches a shared file.
"""
