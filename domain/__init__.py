"""The customs mutual-assistance domain: pure Python, no I/O.

Imports only the standard library and ``eventsourcing.domain``.
"""
