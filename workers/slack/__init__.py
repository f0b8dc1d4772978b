"""What an agent does in Slack, inside the pipeline's transaction: thread replies, buttons and menus, attached files."""
