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
