"""Intake: alert payloads in, decisions and incidents out (parse, correlate, fold, storms)."""
