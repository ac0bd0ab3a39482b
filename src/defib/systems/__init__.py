"""Protected systems: what defib enforces on them, and when traffic may switch one off."""
