"""Shared plumbing for every layer: typed settings and logging."""
