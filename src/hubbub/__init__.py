"""hubbub: a self-hostable, Slack-like real-time chat server."""

__version__ = "0.1.0"
