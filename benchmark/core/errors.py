"""The one exception type that reaches users: a clear, one-line message, never a traceback."""


class MedbenchError(Exception):
    """A problem with the user's input or environment; the CLI prints ``medbench: error: <message>``."""
