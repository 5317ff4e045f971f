"""The policy: declarative rules resolved by a pure function into one decision."""
