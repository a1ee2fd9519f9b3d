"""Scripts that the built interpreters run (not imported by the tool).

Each one is run as ``build/<name>/python probes/<script>.py``; they use only
the standard library of the interpreter under test.
"""
