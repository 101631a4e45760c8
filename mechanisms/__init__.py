"""socialign mechanisms."""
