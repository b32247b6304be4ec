"""The command line: the only package that imports click.

`main` registers every command group; each group module imports only `options` (shared
options, errors and output helpers) and the library, never `main`.
"""
