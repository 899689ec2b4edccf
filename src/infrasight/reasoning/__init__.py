"""Reasoning: condition standards, root causes, hazards and deterioration (pure, data-driven).

Imports no web framework, ORM or protocol client; reads only its own packaged TOML data.
"""
