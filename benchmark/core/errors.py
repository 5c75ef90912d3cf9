"""The one exception type that reaches users: a clear, one-line message, never a traceback."""


class MedbenchError(Exception):
    """A problem with the user's input or environment; the CLI prints ``medbench: error: <message>``."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped a run; ``remaining`` names the planned jobs it did not finish (job ids)."""

    def __init__(self, remaining: list[str] | None = None):
        super().__init__()
        self.remaining = list(remaining or [])
