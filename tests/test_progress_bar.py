"""The command-line progress bar: redrawn in place on a terminal, plain lines in a log file or a pipe."""

from __future__ import annotations

import io

from gymnast_pose.commands.analyze import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_log_file_it_writes_the_start_and_one_line_per_tenth():
    log = io.StringIO()
    bar = ProgressBar("analysing clip.mp4", stream=log)
    for done in range(1, 1001):
        bar.update(done, 1000)
    bar.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert len(lines) == 11 and all(line.startswith("analysing clip.mp4: [") for line in lines)
    assert "0.1 %" in lines[0] and "10.0 %" in lines[1] and "100.0 %  1000/1000" in lines[-1]  # start, tenths
    assert "left" not in lines[0] and "left" in lines[1]  # no guess while the model loads
    assert "left" not in lines[-1]  # nor once done


def test_in_a_log_file_a_wrong_total_cannot_repeat_the_last_line():
    log = io.StringIO()
    bar = ProgressBar("frames", stream=log)
    for done in range(1, 40):  # the container promised 30 frames and held 39
        bar.update(done, 30)
    assert log.getvalue().count("100.0 %") == 1


def test_on_a_terminal_it_redraws_one_line_and_ends_it_on_close():
    term = Terminal()
    bar = ProgressBar("images", stream=term, rate=1e9)  # no rate limit, so every update draws
    for done in range(1, 6):
        bar.update(done, 5, note="im1.jpg")
    bar.close()
    text = term.getvalue()
    assert text.count("\r") == 5 and text.endswith("\n") and text.count("\n") == 1
    assert "100.0 %  5/5  im1.jpg" in text


def test_on_a_terminal_updates_faster_than_the_rate_are_skipped_but_the_last_is_drawn():
    term = Terminal()
    bar = ProgressBar("images", stream=term, rate=1e-9)  # at most one draw per ~30 years
    for done in range(1, 101):
        bar.update(done, 100)
    assert term.getvalue().count("\r") == 2  # the first update and the final one
    assert "100.0 %" in term.getvalue()
