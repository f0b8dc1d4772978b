"""What each channel keeps besides tickets: IMAP leases and progress, SMS opt-outs and media, Slack threads, users and cards, webhook sources and signatures."""
