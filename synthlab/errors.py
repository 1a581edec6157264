"""One exception type for mistakes the user can fix: the CLI prints it as a single line."""


class SynthlabError(Exception):
    """A bad config value, file or size. The message names what is wrong and how to fix it."""
