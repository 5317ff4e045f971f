"""Outgoing mail the gateway writes itself, after the store has committed: potential-breach alerts, notices to
senders of held messages, the daily digest, and the delivery of a released message.

Each module does one job and calls the store's public API; every message leaves through
``gateway.upstream.deliver`` (the one "open MAIL/RCPT and send" helper). ``Notifier`` is what ``serve``
attaches to the store so that a commit is followed by its mail without the SMTP reply waiting for it.
"""
