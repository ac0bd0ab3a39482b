"""Signals from the AI stack a team already runs, turned into the gateway's exchanges.

OpenTelemetry GenAI spans and log events (`otlp`, `otlp_logs`, joined by `join`) and
LiteLLM's logging and alerting webhooks (`litellm`) become `ModelCall`s (`calls`); the hub
(`hub`) feeds them through the same post-processing the gateway runs on its own traffic:
inline detection, corroboration labels, SLO burn rates, masked and sampled captures.

Everything but `hub` is pure: bytes or JSON in, records out, no I/O. See docs/signals.md.
"""
