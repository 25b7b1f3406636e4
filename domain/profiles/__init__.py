"""Agreement profiles as data: one JSON file per agreement, read by domain/agreements.py."""
