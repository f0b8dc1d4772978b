"""Read models for people: ticket lists and details for the CLI and the API, incidents, the report's rows, what Slack lists and cards show, what the bench reads back."""
