"""The web console: server-rendered pages for officials, auditors, the DPO and operators (docs/console.md)."""

from service.console.web import mount

__all__ = ["mount"]
