"""The exchange protocol between nodes: the directory, outgoing envelopes, the courier, the inbox's verification, witnessing."""
