from timesheet.entries import Entry
from timesheet.report import format_minutes, render, summarize


def test_format_minutes():
    assert format_minutes(135) == "2:15"
    assert format_minutes(630) == "10:30"


def test_summarize_sums_per_task_in_task_order():
    entries = [Entry("d", 30, "review"), Entry("d", 45, "coding"), Entry("d", 15, "review")]
    assert summarize(entries) == {"coding": 45, "review": 45}


def test_render():
    entries = [Entry("d", 90, "review"), Entry("d", 105, "coding"), Entry("d", 60, "review")]
    assert render(entries) == "coding   1:45\nreview   2:30\ntotal    4:15"
