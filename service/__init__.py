"""The node's application layer: the composition root (:mod:`service.node`), the application services
(cases, consent, audit, dpo) and the ways in — ``http/`` (the API), ``cli/`` (``cmaa``), ``exchange/`` (the
protocol between nodes) — with ``ops/`` for running a node."""
