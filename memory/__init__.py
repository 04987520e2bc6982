"""The memory operations."""
