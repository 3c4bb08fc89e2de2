from timesheet.cli import main


def test_prints_the_report(tmp_path, capsys):
    sheet = tmp_path / "week.txt"
    sheet.write_text("2024-05-06 09:00-10:30 review\n2024-05-06 10:30-12:15 coding\n")
    assert main([str(sheet)]) == 0
    assert capsys.readouterr().out == "coding   1:45\nreview   1:30\ntotal    3:15\n"


def test_bad_line_goes_to_stderr_with_exit_code_1(tmp_path, capsys):
    sheet = tmp_path / "week.txt"
    sheet.write_text("2024-05-06 9-10 review\n")
    assert main([str(sheet)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "line 1" in captured.err
