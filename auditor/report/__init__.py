"""Renderers of scan results for people and machines."""
