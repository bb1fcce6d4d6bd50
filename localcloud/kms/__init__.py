"""Key Management Service secrets (2016-01-20)."""
