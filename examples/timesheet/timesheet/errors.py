class TimesheetError(ValueError):
    """A line of the timesheet that cannot be read; the message names the line."""
