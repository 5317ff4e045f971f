"""dlpgate: an email data-loss-prevention gateway (before-queue SMTP relay)."""

__version__ = "0.1.0"
