"""Packaged classification rules (default_rules.yaml)."""
