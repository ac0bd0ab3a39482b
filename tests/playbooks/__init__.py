"""Tests for the playbook layer."""
