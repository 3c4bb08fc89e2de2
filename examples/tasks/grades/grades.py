"""Letter grades from scores out of 100."""

# The lowest score that earns each letter.
THRESHOLDS = [(90, "A"), (80, "B"), (70, "C"), (60, "D")]


def letter_grade(score):
    if not 0 <= score <= 100:
        raise ValueError(f"score out of range: {score}")
    for threshold, letter in THRESHOLDS:
        if score > threshold:
            return letter
    return "F"
