"""The review console (issue 14): a server-rendered web application (Starlette, Jinja2, plain forms, no
JavaScript) where the security team signs in, works the quarantine queue, reveals, releases and rejects held
messages (four eyes where required), and reads the hash-chained audit trail.

It reads and writes through the store's public API (``gateway.store``) and releases through
``gateway.notify.release``; ``gateway.console.server`` runs it with uvicorn inside the gateway's event loop.
"""
