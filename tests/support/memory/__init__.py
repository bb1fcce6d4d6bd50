"""In-memory implementations of the product's ports (shared/nestbackup/ports), for operation tests that run in
seconds. tests/contracts runs one suite per port against these and against the real adapters, so they stay honest."""
