"""The SMTP edge: aiosmtpd server, relay checks, limits, and the replies we send."""
