"""Persistence, crypto, clock and partner I/O. May import ``domain``, never ``service``."""
