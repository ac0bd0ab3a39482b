"""Postmortems: the document (pure), its renderings, the AIID export, and the gathering."""
