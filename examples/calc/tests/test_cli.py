from calc.cli import format_number, main


def test_prints_the_value(capsys):
    assert main(["1 + 2 * 3"]) == 0
    assert capsys.readouterr().out == "7\n"


def test_whole_floats_print_without_decimals(capsys):
    assert main(["10 / 4 * 2"]) == 0
    assert capsys.readouterr().out == "5\n"


def test_variables_from_the_command_line(capsys):
    assert main(["x * y", "--var", "x=3", "--var", "y=0.5"]) == 0
    assert capsys.readouterr().out == "1.5\n"


def test_errors_go_to_stderr_with_exit_code_1(capsys):
    assert main(["1 / 0"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "division by zero" in captured.err


def test_format_number():
    assert format_number(3) == "3"
    assert format_number(2.0) == "2"
    assert format_number(0.1) == "0.1"
