"""``helpline import mbox|maildir|eml``: a team's mail history, through the live pipeline, sending nothing."""
