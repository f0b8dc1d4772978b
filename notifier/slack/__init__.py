"""The Slack sender: Block Kit messages, what a ticket shows, files, suggested answers, Slack's metrics."""
