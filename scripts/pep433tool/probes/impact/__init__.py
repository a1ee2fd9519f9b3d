"""What ``scripts/pep433 impact`` puts into its venvs and runs.

``_pep433_impact.py`` is copied into the site-packages of every impact venv
(with a ``.pth`` file that imports it at start-up): a census of the fds
each Python process starts with, and a pytest plugin.  ``fdpass.py`` is run
by each interpreter for the fd-passing table.  Standard library only.
"""
