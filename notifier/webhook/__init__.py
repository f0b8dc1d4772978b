"""Outbound webhooks: ticket events for the sources a ticket came from, signed."""
