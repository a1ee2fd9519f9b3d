"""Tooling for the PEP 433 patch series on CPython 3.13.5.

The package is driven by the ``scripts/pep433`` entry point; see
:mod:`pep433tool.cli` for the subcommands.
"""

__all__ = ['errors', 'util', 'config']
