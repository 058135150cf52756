"""The async Python SDK (`Client`) and the terminal programs built on it."""

from hubbub.client.sdk import Client, HubbubError

__all__ = ["Client", "HubbubError"]
