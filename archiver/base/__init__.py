"""Base layer: what every stage shares and nothing above it is needed for.

Errors, findings, the agent (who and what software acted) and the JSON Schemas.
"""
