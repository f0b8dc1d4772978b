"""Personal data: finding and masking it, redacting it at rest, revealing it to one agent with an audit event."""
