"""What leaves: outbox rows and their claims, agents' outbound messages, rate counters, delivery status."""
