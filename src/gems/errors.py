"""The errors a user can cause. The CLI prints them as one red line and exits with code 1.

Every message says what was expected, what was found (file, line, track or user id) and what to do.
"""


class GemsError(Exception):
    """Base of every error gems reports to a user instead of a traceback."""


class DataError(GemsError):
    """Input data is missing, malformed or inconsistent (a file, a row, a column, an audio file)."""


class ParameterError(GemsError):
    """An option or pipeline parameter is out of range or contradicts another."""


class ModelError(GemsError):
    """A model folder is missing, incomplete, from an incompatible version, or lacks what was asked of it."""


class UnknownTrackError(ParameterError):
    """A track given by id or title is not in the model; carries close matches for the message."""

    def __init__(self, query: str, suggestions: list[str], *, ambiguous: bool = False):
        self.query = query
        self.suggestions = suggestions
        self.ambiguous = ambiguous
        if ambiguous:
            head = f"'{query}' matches several tracks"
            tail = "; give the track id, 'Artist - Title' or 'Title (Soundtrack)' instead"
        else:
            head = f"no track matches '{query}'"
            tail = "; `gems info --model DIR --tracks` lists every track"
        listed = "; ".join(suggestions[:5])
        super().__init__(head + (f" (did you mean: {listed})" if listed else "") + tail)


class BusyError(GemsError):
    """Another gems process is writing the same model folder or output; wait for it, or write elsewhere."""
