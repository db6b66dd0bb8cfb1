"""Turning composed configuration into validated components."""
