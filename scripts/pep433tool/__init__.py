"""Tooling for the PEP 433 patch series on CPython (one series per base).

The package is driven by the ``scripts/pep433`` entry point; see
:mod:`pep433tool.cli` for the subcommands.
"""

__all__ = ['errors', 'util', 'config']
