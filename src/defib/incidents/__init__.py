"""Incidents: their lifecycle, review, report and the story a person reads."""
