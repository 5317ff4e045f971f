"""What happens to a message after the decision: relay, tag, encrypt, quarantine, reject."""
