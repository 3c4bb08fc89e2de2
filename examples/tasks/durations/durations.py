"""Human-readable durations."""


def format_duration(seconds):
    """H:MM:SS, like a stopwatch: 3909 -> '1:05:09'. Under an hour: M:SS."""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes}:{secs:02d}"
    return f"{minutes}:{secs:02d}"
