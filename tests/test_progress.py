import io

from visionkit.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_bar_is_drawn_on_a_terminal_only():
    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        with Progress(4, "train", stream=stream, min_interval=0) as bar:
            for _ in range(4):
                bar.update(1, loss=0.123456)
    assert "[" + "#" * 24 + "] 4/4" in tty.getvalue() and "loss 0.1235" in tty.getvalue()
    assert pipe.getvalue() == ""


def test_closing_line_is_printed_everywhere_unless_disabled():
    pipe = io.StringIO()
    Progress(None, stream=pipe).close("epoch 1 done")
    assert pipe.getvalue() == "epoch 1 done\n"
    quiet = io.StringIO()
    Progress(None, stream=quiet, enabled=False).close("epoch 1 done")
    assert quiet.getvalue() == ""


def test_long_work_writes_a_plain_line_a_minute_off_a_terminal(monkeypatch):
    """Redirected to a file, a half-hour epoch must not look like a hang; short work stays silent."""
    import visionkit.progress as progress

    clock = {"t": 1000.0}
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock["t"])
    pipe = io.StringIO()
    bar = Progress(10, "epoch 1/7", stream=pipe)
    for _ in range(10):
        clock["t"] += 25.0
        bar.update(1, loss=0.5)
    bar.close()
    lines = pipe.getvalue().splitlines()
    assert lines == ["epoch 1/7 3/10 75s eta 175s loss 0.5", "epoch 1/7 6/10 150s eta 100s loss 0.5",
                     "epoch 1/7 9/10 225s eta 25s loss 0.5"]
    assert "\r" not in pipe.getvalue() and "\x1b" not in pipe.getvalue()
