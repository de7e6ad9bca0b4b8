"""Adapters that speak: Event Grid topic, Teams, email; and what they say (cards, notices)."""
