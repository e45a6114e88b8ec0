"""Integrations, one module or package per YAML key (see orbiteos.loader)."""
