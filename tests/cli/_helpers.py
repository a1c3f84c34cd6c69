"""Assertions shared by the CLI tests."""


def error_line(capsys, command: str) -> str:
    """The single stderr line of a failed command (asserting it is one line, no traceback)."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"chmr {command}: error: ") and "Traceback" not in err
    return lines[0]
