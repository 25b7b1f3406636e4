"""Running a node: metrics, structured logging, background jobs, backups, the two-node demo."""
