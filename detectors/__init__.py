"""Detectors: content (Presidio + UK recognizers), recipients, forwarding and encryption state."""
