"""visionkit.sources: files, folders, globs, videos, cameras and arrays as one stream of frames."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from pathlib import Path

import cv2
import numpy as np
import pytest

from visionkit.errors import InputError
from visionkit.sources import (
    ArraySource, CameraSource, FolderSource, Frame, FrameError, GlobSource, ImageSource, Source,
    VideoSource, open_builtin, open_sources,
)

REALWORLD_VIDEO = Path("/work/shared/realworld/video")


def write_png(path: Path, value: int = 0, size: tuple[int, int] = (24, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((size[1], size[0], 3), value, np.uint8))
    return path


def write_video(path: Path, frames: int, size: tuple[int, int] = (64, 48), noisy: bool = False) -> Path:
    """MJPG in AVI: this OpenCV build writes it everywhere (mp4v works too; H.264 does not).
    Frame i is pure blue (BGR) with brightness 10 * i, so colour order and order both show;
    ``noisy`` adds texture, so frames outweigh the container's headers."""
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG video")
    for i in range(frames):
        frame = np.zeros((size[1], size[0], 3), np.uint8)
        frame[..., 0] = 10 * i + 5
        if noisy:
            frame[..., 1] = rng.integers(0, 255, frame.shape[:2])
        writer.write(frame)
    writer.release()
    return path


def frames_of(source: Source) -> list[Frame | FrameError]:
    with source:
        return list(source)


# --- records -----------------------------------------------------------------------------------

def test_frame_error_reads_as_one_line():
    error = FrameError.from_exception(InputError("a.jpg: truncated JPEG"), "a.jpg")
    assert error == FrameError("a.jpg", None, "truncated JPEG")
    assert str(error) == "a.jpg: truncated JPEG"
    assert str(FrameError("clip.mp4", 7, "bad frame")) == "clip.mp4 (frame 7): bad frame"
    frame = Frame(np.zeros((2, 2, 3), np.uint8), "array", 0)
    assert "array" in repr(frame) and "image" not in repr(frame)


# --- files and folders -------------------------------------------------------------------------

def test_image_source(tmp_path):
    (frame,) = frames_of(ImageSource(write_png(tmp_path / "a.png", 9)))
    assert isinstance(frame, Frame) and frame.index == 0 and frame.source == str(tmp_path / "a.png")
    assert frame.image.shape == (16, 24, 3) and frame.image[0, 0, 0] == 9


def test_bad_image_becomes_frame_error(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("<html>")
    (item,) = frames_of(ImageSource(bad))
    assert isinstance(item, FrameError) and item.source == str(bad)
    assert item.reason.startswith("not an image")
    with pytest.raises(InputError, match="no such file or directory"):
        ImageSource(tmp_path / "missing.png")


def test_folder_natural_order_skips_non_images(tmp_path):
    for name in ("img10.png", "img2.png", "IMG1.jpg", "img2b.PNG"):
        write_png(tmp_path / name)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "._img3.png").write_bytes(b"\x00\x05\x16\x07")  # macOS resource fork
    write_png(tmp_path / "sub" / "deep.png")
    source = FolderSource(tmp_path)
    assert [Path(p).name for p in source.paths] == ["IMG1.jpg", "img2.png", "img2b.PNG", "img10.png"]
    assert source.expected_length == 4
    assert all(isinstance(f, Frame) for f in frames_of(source))


def test_folder_recursion(tmp_path):
    write_png(tmp_path / "b" / "x.png")
    write_png(tmp_path / "a" / "c" / "y.png")
    write_png(tmp_path / "z.png")
    write_png(tmp_path / ".cache" / "hidden.png")
    found = FolderSource(tmp_path, recursive=True).paths
    assert [Path(p).relative_to(tmp_path).as_posix() for p in found] == ["a/c/y.png", "b/x.png", "z.png"]
    assert FolderSource(tmp_path).paths == [str(tmp_path / "z.png")]


def test_empty_folder(tmp_path):
    with pytest.raises(InputError) as info:
        FolderSource(tmp_path)
    assert str(info.value) == f"{tmp_path}: no images in folder"
    write_png(tmp_path / "sub" / "a.png")
    with pytest.raises(InputError, match="no images in folder .subfolders not searched"):
        FolderSource(tmp_path)
    assert len(FolderSource(tmp_path, recursive=True).paths) == 1


def test_folder_keeps_going_past_a_bad_file(tmp_path):
    write_png(tmp_path / "1.png")
    (tmp_path / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    write_png(tmp_path / "3.png")
    items = frames_of(FolderSource(tmp_path))
    assert [type(i).__name__ for i in items] == ["Frame", "FrameError", "Frame"]
    assert "PNG" in items[1].reason


def test_glob(tmp_path):
    for name in ("s10.png", "s9.png", "other.jpg"):
        write_png(tmp_path / name)
    write_png(tmp_path / "deeper" / "s1.png")
    (tmp_path / "s5.txt").write_text("not an image")
    source = GlobSource(str(tmp_path / "s*"))
    assert [Path(p).name for p in source.paths] == ["s9.png", "s10.png"]
    assert len(GlobSource(str(tmp_path / "**" / "s*.png")).paths) == 3
    with pytest.raises(InputError, match="no files match"):
        GlobSource(str(tmp_path / "*.tif"))
    with pytest.raises(InputError, match="none an image or video"):
        GlobSource(str(tmp_path / "*.txt"))


def test_glob_reads_videos_frame_by_frame(tmp_path):
    write_video(tmp_path / "clip.avi", 3)
    write_png(tmp_path / "still.png")
    source = GlobSource(str(tmp_path / "*"))
    assert source.expected_length == 4
    items = frames_of(source)
    assert [(Path(i.source).name, i.index) for i in items] == [
        ("clip.avi", 0), ("clip.avi", 1), ("clip.avi", 2), ("still.png", 0)]


# --- video -------------------------------------------------------------------------------------

def test_video_frames_rgb_in_order(tmp_path):
    path = write_video(tmp_path / "clip.avi", 12)
    source = VideoSource(path)
    assert source.expected_length == 12 and source.fps == 10
    frames = frames_of(source)
    assert [f.index for f in frames] == list(range(12))
    assert all(f.image.shape == (48, 64, 3) and f.image.flags.c_contiguous for f in frames)
    blue = [int(f.image[..., 2].mean()) for f in frames]
    assert abs(blue[3] - 35) <= 3 and int(frames[3].image[..., 0].max()) <= 3  # RGB, not BGR
    assert blue == sorted(blue)
    assert [round(f.timestamp_ms) for f in frames[:3]] == [0, 100, 200]
    assert len(frames_of(source)) == 12  # iterating again reopens the file


def test_video_with_wrong_declared_count(tmp_path, capfd):
    data = write_video(tmp_path / "full.avi", 20, noisy=True).read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) * 2 // 3])  # the header still says 20 frames
    source = VideoSource(cut)
    assert source.expected_length == 20
    started = time.monotonic()
    frames = frames_of(source)
    assert 0 < len(frames) < 20 and all(isinstance(f, Frame) for f in frames)
    assert time.monotonic() - started < 5
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("name,declared,decodable", [
    ("pedestrians_overhead_1280x720_h264.avi", 682, 341),
    ("car_traffic_small_640x360.mp4", 922, 917),
])
def test_realworld_videos_yield_what_decodes(name, declared, decodable, capfd):
    path = REALWORLD_VIDEO / name
    if not path.exists():
        pytest.skip("real-world videos absent")
    source = VideoSource(path)
    assert source.expected_length == declared
    count = 0
    for item in source:
        assert isinstance(item, Frame) and item.index == count
        count += 1
    assert count == decodable
    assert capfd.readouterr().err == ""


def test_not_a_video(tmp_path, capfd):
    fake = tmp_path / "clip.mp4"
    fake.write_text("<html>hello</html>")
    with pytest.raises(InputError) as info:
        VideoSource(fake)
    assert str(info.value) == f"{fake}: not a video OpenCV can decode (starts with '<html>hello</htm')"
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        VideoSource(empty)
    with pytest.raises(InputError, match="no such file or directory"):
        VideoSource(tmp_path / "missing.mp4")
    assert capfd.readouterr().err == ""  # FFmpeg's "moov atom not found" stays quiet


def test_frames_are_not_held(tmp_path):
    """Memory stays flat: a frame the consumer dropped is freed before the next one."""
    source = VideoSource(write_video(tmp_path / "clip.avi", 5))
    iterator = iter(source)
    first = weakref.ref(next(iterator).image)
    next(iterator)
    gc.collect()
    assert first() is None
    iterator.close()


# --- camera ------------------------------------------------------------------------------------

def tiny(value: int) -> np.ndarray:
    frame = np.zeros((4, 4, 3), np.uint8)
    frame[..., 0] = value % 256  # BGR blue channel carries the frame number
    return frame


class GatedCamera:
    """Delivers a frame only when the test allows one, so timing cannot flake the test."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.allowed = self.produced = 0
        self.idle = False  # set by a read() that found nothing to deliver
        self.released = False
        self.settings: dict[int, float] = {}

    def isOpened(self) -> bool:  # noqa: N802 (cv2's spelling)
        return True

    def set(self, prop: int, value: float) -> bool:
        self.settings[prop] = value
        return True

    def read(self):
        with self.lock:
            if self.produced == self.allowed:
                self.idle = True  # the grabber has stored every frame delivered so far
                self.lock.notify_all()
                if not self.lock.wait_for(lambda: self.produced < self.allowed, timeout=0.02):
                    return False, None
            self.idle = False
            self.produced += 1
            return True, tiny(self.produced - 1)

    def release(self) -> None:
        self.released = True

    def allow(self, frames: int) -> None:
        """Deliver ``frames`` frames and wait until the grabber has taken them all."""
        with self.lock:
            self.allowed += frames
            self.idle = False
            self.lock.notify_all()
            assert self.lock.wait_for(lambda: self.idle and self.produced == self.allowed, timeout=5)


def test_camera_gives_the_newest_frame_and_skips_the_rest():
    camera = GatedCamera()
    with CameraSource(0, capture_factory=lambda index: camera) as source:
        assert source.live and source.expected_length is None and source.name == "webcam:0"
        assert camera.settings[cv2.CAP_PROP_BUFFERSIZE] == 1
        frames = iter(source)
        camera.allow(1)
        first = next(frames)
        assert first.index == 0
        camera.allow(10)  # the consumer was busy while ten frames arrived
        newest = next(frames)
        assert newest.index == 10  # frames 1..9 were skipped, visibly
        assert newest.image[0, 0].tolist() == [0, 0, 10]  # RGB: the blue channel came last
        camera.allow(3)
        assert next(frames).index == 13


class FastCamera:
    """A free-running camera, much faster than the consumer below."""

    def __init__(self) -> None:
        self.count = 0
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802
        return True

    def set(self, prop: int, value: float) -> bool:
        return True

    def read(self):
        time.sleep(0.001)
        self.count += 1
        return True, tiny(self.count - 1)

    def release(self) -> None:
        self.released = True


def test_slow_consumer_never_falls_behind():
    camera = FastCamera()
    source = CameraSource(1, capture_factory=lambda index: camera)
    seen = []
    for frame in source:
        assert frame.image[0, 0, 2] == frame.index % 256  # image and counter belong together
        assert camera.count - 1 - frame.index < 50  # about the newest (exactly: test above)
        seen.append(frame.index)
        time.sleep(0.02)  # a slow model
        if len(seen) == 5:
            break
    source.close()
    assert seen == sorted(set(seen))
    assert max(b - a for a, b in zip(seen, seen[1:])) > 1  # frames were skipped


def test_camera_close_joins_the_grabber():
    camera = FastCamera()
    source = CameraSource(0, capture_factory=lambda index: camera)
    next(iter(source))
    thread = source._thread
    assert thread is not None and thread.is_alive()
    source.close()
    assert not thread.is_alive() and camera.released
    assert list(source) == []  # a closed camera yields nothing
    source.close()  # twice is fine


def test_camera_never_started_is_released_on_close():
    camera = FastCamera()
    CameraSource(0, capture_factory=lambda index: camera).close()
    assert camera.released and camera.count == 0


class DeadCamera(FastCamera):
    def read(self):
        time.sleep(0.001)
        return False, None


def test_camera_that_stops_sending_ends_with_a_frame_error():
    source = CameraSource(2, capture_factory=lambda index: DeadCamera(), stall_timeout_s=0.05)
    (item,) = list(source)
    assert isinstance(item, FrameError) and item.source == "webcam:2"
    assert "no frame" in item.reason
    source.close()


def test_missing_camera_fake():
    class Closed(FastCamera):
        def isOpened(self):  # noqa: N802
            return False

    camera = Closed()
    with pytest.raises(InputError) as info:
        CameraSource(3, capture_factory=lambda index: camera)
    assert str(info.value) == "webcam:3: no camera at index 3"
    assert camera.released

    def broken(index):
        raise cv2.error("backend exploded")

    with pytest.raises(InputError, match="no camera at index 4"):
        CameraSource(4, capture_factory=broken)


def test_missing_real_camera_is_quick_and_quiet(capfd):
    started = time.monotonic()
    with pytest.raises(InputError, match="^webcam:99: no camera at index 99$"):
        CameraSource(99)
    assert time.monotonic() - started < 5
    assert capfd.readouterr().err == ""


# --- arrays ------------------------------------------------------------------------------------

def test_array_source_accepts_rgb_grey_rgba_and_stacks():
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200
    grey = np.full((4, 5), 7, np.uint8)
    rgba = np.zeros((4, 5, 4), np.uint8)  # fully transparent -> white
    frames = frames_of(ArraySource([rgb, grey, rgba]))
    assert [(f.source, f.index) for f in frames] == [("array", 0), ("array", 1), ("array", 2)]
    assert frames[0].image[0, 0].tolist() == [200, 0, 0]  # RGB stays RGB
    assert frames[1].image[0, 0].tolist() == [7, 7, 7]
    assert frames[2].image[0, 0].tolist() == [255, 255, 255]
    assert all(f.image.shape == (4, 5, 3) and f.image.flags.c_contiguous for f in frames)
    assert len(frames_of(ArraySource(np.zeros((3, 4, 5, 3), np.uint8)))) == 3
    strided = np.zeros((8, 10, 3), np.uint8)[::2, ::2]
    assert frames_of(ArraySource(strided))[0].image.flags.c_contiguous


@pytest.mark.parametrize("bad,message", [
    (np.zeros((4, 4, 3), np.float32), "array: expected uint8 pixels (0-255), got float32"),
    (np.zeros((4, 4, 2), np.uint8), "array: expected an HxWx3 RGB image (or HxW grey, HxWx4 RGBA), got shape (4, 4, 2)"),
    (np.zeros((0, 4, 3), np.uint8), "array: empty image of shape (0, 4, 3)"),
    ([np.zeros((4, 4, 3), np.uint8), "x.png"], "array[1]: expected a numpy array, got str"),
    ([], "array: no images given"),
    ({"a": 1}, "array: expected a numpy array or a list of them, got dict"),
])
def test_array_source_refuses_clearly(bad, message):
    with pytest.raises(InputError) as info:
        ArraySource(bad)
    assert str(info.value) == message


# --- opening specs -----------------------------------------------------------------------------

def test_open_builtin_dispatch(tmp_path, monkeypatch):
    image = write_png(tmp_path / "a.png")
    video = write_video(tmp_path / "v.avi", 2)
    write_png(tmp_path / "12" / "b.png")  # digits that name a folder stay a path
    assert isinstance(open_builtin(str(image)), ImageSource)
    assert isinstance(open_builtin(image), ImageSource)
    assert isinstance(open_builtin(str(video)), VideoSource)
    assert isinstance(open_builtin(tmp_path), FolderSource)
    assert isinstance(open_builtin(str(tmp_path / "*.png")), GlobSource)
    assert isinstance(open_builtin(np.zeros((2, 2, 3), np.uint8)), ArraySource)
    assert isinstance(open_builtin([np.zeros((2, 2, 3), np.uint8)] * 2), ArraySource)
    assert len(open_builtin(tmp_path, recursive=True).paths) == 2
    monkeypatch.chdir(tmp_path)
    assert isinstance(open_builtin("12"), FolderSource)


def test_open_builtin_cameras_and_failures(tmp_path):
    for spec in (99, "99", "webcam:99", np.int64(99)):
        with pytest.raises(InputError, match="^webcam:99: no camera at index 99$"):
            open_builtin(spec)
    missing = tmp_path / "missing.mp4"
    with pytest.raises(InputError) as info:
        open_builtin(str(missing))
    assert str(info.value) == f"{missing}: no such file or directory"
    with pytest.raises(InputError, match="cannot read input of type float"):
        open_builtin(1.5)
    with pytest.raises(InputError, match="no files match"):
        open_builtin(str(tmp_path / "*.jpg"))


def test_open_sources_goes_on_past_a_missing_path(tmp_path):
    first = write_png(tmp_path / "first.png", 1)
    folder = tmp_path / "more"
    write_png(folder / "x1.png")
    write_png(folder / "x2.png")
    missing = tmp_path / "missing.png"
    with open_sources([first, str(missing), folder]) as source:
        assert source.expected_length == 4 and not source.live
        items = list(source)
    assert [type(i).__name__ for i in items] == ["Frame", "FrameError", "Frame", "Frame"]
    assert items[1] == FrameError(str(missing), None, "no such file or directory")


def test_open_sources_with_an_opener_and_single_specs(tmp_path):
    calls = []

    def opener(spec, **options):
        calls.append((spec, options))
        if spec == "plugin:thing":
            return ArraySource(np.zeros((2, 2, 3), np.uint8))
        return open_builtin(spec, **options)

    image = write_png(tmp_path / "a.png")
    items = list(open_sources(["plugin:thing", str(image)], recursive=True, opener=opener))
    assert [i.source for i in items] == ["array", str(image)]
    assert calls[0] == ("plugin:thing", {"recursive": True})
    assert len(list(open_sources(str(image)))) == 1
    with pytest.raises(InputError, match="no inputs given"):
        open_sources([])


def test_chain_with_a_camera_has_no_length():
    camera = FastCamera()
    source = open_sources([np.zeros((2, 2, 3), np.uint8), CameraSource(0, capture_factory=lambda i: camera)])
    assert source.live and source.expected_length is None
    source.close()
    assert camera.released



def test_a_missing_camera_is_named_once_in_the_stream():
    from visionkit.sources import open_sources

    def no_camera(spec, **options):
        raise InputError(f"webcam:{spec}: no camera at index {spec}")

    [item] = list(open_sources(["9"], opener=no_camera))
    assert str(item) == "webcam:9: no camera at index 9"


# --- reading by index (what the desktop app does) -------------------------------------------------

def value_of(frame: Frame) -> int:
    """The grey value a still was written with (write_png)."""
    return int(frame.image[0, 0, 0])


def index_of(frame: Frame) -> int:
    """The frame number write_video encoded as brightness (blue = 10 * i + 5)."""
    return round((float(frame.image[..., 2].mean()) - 5) / 10)


def test_an_image_reads_by_index(tmp_path):
    source = ImageSource(write_png(tmp_path / "a.png", 7))
    assert source.seekable and source.kind == "stills" and source.count == 1 and source.fps is None
    assert value_of(source.read(0)) == 7
    assert source.read(1) is None and source.read(-1) is None


def test_a_folder_reads_the_ith_file_and_a_bad_one_as_its_error(tmp_path):
    for i in (1, 2, 3, 10):
        write_png(tmp_path / f"img{i}.png", 10 * i)
    (tmp_path / "img4.png").write_text("no image")
    source = FolderSource(tmp_path)  # natural order: 1, 2, 3, 4 (bad), 10
    assert source.seekable and source.kind == "stills" and source.count == 5
    assert [value_of(source.read(i)) for i in (4, 0, 2)] == [100, 10, 30]
    bad = source.read(3)
    assert isinstance(bad, FrameError) and bad.source.endswith("img4.png")
    assert source.read(5) is None and source.read(-1) is None


def test_a_glob_of_images_seeks_and_one_with_a_video_plays_in_order(tmp_path):
    for i in range(3):
        write_png(tmp_path / f"s{i}.png", 10 * i)
    stills = GlobSource(str(tmp_path / "*.png"))
    assert stills.seekable and stills.kind == "stills" and stills.count == 3
    assert value_of(stills.read(2)) == 20 and stills.read(3) is None
    write_video(tmp_path / "s1b.avi", 2)
    mixed = GlobSource(str(tmp_path / "*"))
    assert not mixed.seekable and mixed.kind == "stream" and mixed.count is None
    items = [mixed.read(0) for _ in range(6)]  # the index does not matter: the next item
    assert [(Path(i.source).name, i.index) for i in items[:5]] == [
        ("s0.png", 0), ("s1.png", 0), ("s1b.avi", 0), ("s1b.avi", 1), ("s2.png", 0)]
    assert items[5] is None
    mixed.close()


def test_arrays_read_by_index_under_their_name():
    source = ArraySource([np.full((4, 4, 3), v, np.uint8) for v in (1, 2, 3)], name="clipboard")
    assert source.seekable and source.kind == "stills" and source.count == 3
    frame = source.read(2)
    assert (frame.source, frame.index, value_of(frame)) == ("clipboard", 2, 3)
    assert source.read(3) is None
    with pytest.raises(InputError, match="^clipboard: empty image"):
        ArraySource(np.zeros((0, 4, 3), np.uint8), name="clipboard")


def counting_opens(monkeypatch, wrap=lambda capture: capture) -> list:
    """Count (and optionally wrap) the captures VideoSource opens."""
    opened = []
    original = VideoSource._open

    def _open(self):
        capture = wrap(original(self))
        opened.append(capture)
        return capture

    monkeypatch.setattr(VideoSource, "_open", _open)
    return opened


def test_a_video_seeks_to_the_right_frame_with_one_open_capture(tmp_path, monkeypatch):
    source = VideoSource(write_video(tmp_path / "clip.avi", 12))
    assert source.seekable and source.kind == "video" and source.count == 12
    opened = counting_opens(monkeypatch)
    order = [7, 2, 3, 4, 11, 0, 9, 1]  # jumps back and forth, short hops, reading on
    frames = [source.read(i) for i in order]
    assert [f.index for f in frames] == order
    assert [index_of(f) for f in frames] == order  # the content, not just the label
    assert frames[0].fps == 10 and round(frames[0].timestamp_ms) == 700 and round(frames[1].timestamp_ms) == 200
    assert source.read(12) is None and source.read(-1) is None and source.read(40) is None
    assert index_of(source.read(5)) == 5  # reading goes on after the end was met
    assert len(opened) == 1  # one capture, kept while in use
    source.close()
    assert index_of(source.read(6)) == 6 and len(opened) == 2  # reopened after close
    source.close()


class InexactSeeks:
    """A capture whose container cannot seek: ``set`` of a frame position fails."""

    def __init__(self, capture):
        self.capture = capture

    def set(self, prop, value):
        return False if prop == cv2.CAP_PROP_POS_FRAMES else self.capture.set(prop, value)

    def __getattr__(self, name):
        return getattr(self.capture, name)


def test_a_video_that_cannot_seek_exactly_is_decoded_forward(tmp_path, monkeypatch):
    source = VideoSource(write_video(tmp_path / "clip.avi", 24))
    opened = counting_opens(monkeypatch, InexactSeeks)
    order = [20, 5, 6, 23, 2]  # far on, back, reading on, a hop on, back again
    assert [index_of(source.read(i)) for i in order] == order
    assert source.read(24) is None
    source.close()
    assert len(opened) > 1  # each jump back decoded forward from a fresh capture


def test_a_video_whose_header_overstates_its_frames_learns_its_count(tmp_path, capfd):
    data = write_video(tmp_path / "full.avi", 20, noisy=True).read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) * 2 // 3])  # the header still says 20 frames
    source = VideoSource(cut)
    assert source.count == 20
    assert source.read(19) is None and source.count < 20  # no later than 19, now
    real = 0
    while source.read(real) is not None:  # reading on finds the real end
        real += 1
    assert 0 < real < 19 and source.count == real
    source.close()
    assert capfd.readouterr().err == ""


def test_a_realworld_video_seek_matches_decoding_in_order():
    path = REALWORLD_VIDEO / "car_traffic_small_640x360.mp4"
    if not path.exists():
        pytest.skip("real-world videos absent")
    source = VideoSource(path)
    wanted = next(f for f in source if f.index == 40)
    sought = source.read(40)
    assert sought.index == 40 and np.array_equal(sought.image, wanted.image)
    assert sought.timestamp_ms == pytest.approx(wanted.timestamp_ms)
    source.close()


def test_a_camera_does_not_seek_and_reads_its_newest_frame():
    camera = FastCamera()
    source = CameraSource(0, capture_factory=lambda index: camera)
    assert not source.seekable and source.kind == "live" and source.count is None
    first = source.read(0)
    time.sleep(0.05)  # the camera runs on meanwhile
    newest = source.read(1)  # whatever index was asked for
    assert newest.index > first.index + 1 and camera.count - 1 - newest.index < 50
    source.close()
    assert source.read(2) is None and camera.released  # a closed camera has ended


def test_a_chain_of_stills_seeks_across_its_parts(tmp_path):
    first = write_png(tmp_path / "first.png", 1)
    folder = tmp_path / "more"
    write_png(folder / "x1.png", 2)
    write_png(folder / "x2.png", 3)
    missing = tmp_path / "missing.png"
    chain = open_sources([first, str(missing), folder])
    assert chain.seekable and chain.kind == "stills" and chain.count == 4
    assert value_of(chain.read(3)) == 3 and value_of(chain.read(0)) == 1
    assert chain.read(1) == FrameError(str(missing), None, "no such file or directory")
    assert chain.read(4) is None and chain.read(-1) is None
    with_video = open_sources([first, write_video(tmp_path / "v.avi", 2)])
    assert not with_video.seekable and with_video.kind == "stream" and with_video.count is None
    assert [with_video.read(0).source for _ in range(3)] == [str(first)] + [str(tmp_path / "v.avi")] * 2
    with_video.close()


@pytest.mark.parametrize("spec,index", [("webcam:1", 1), ("1", 1), (2, 2), (np.int64(3), 3), ("cam:4", 4),
                                        ("photo.png", None), (True, None), (1.5, None)])
def test_camera_specs(spec, index):
    from visionkit.sources import camera_index

    assert camera_index(spec) == index


def test_open_seekable_opens_what_the_cli_opens(tmp_path):
    from visionkit.sources import open_seekable

    image = write_png(tmp_path / "a.png", 5)
    assert isinstance(open_seekable(str(image)), ImageSource)
    assert isinstance(open_seekable([image]), ImageSource)  # a list of one is that one
    both = open_seekable([image, write_png(tmp_path / "b.png", 6)])
    assert both.kind == "stills" and both.count == 2 and value_of(both.read(1)) == 6
    with pytest.raises(InputError, match="missing.png: no such file"):
        open_seekable([tmp_path / "missing.png", tmp_path / "missing2.png"])
    camera = FastCamera()
    live = open_seekable("webcam:5", camera_factory=lambda index: camera)
    assert live.kind == "live" and live.name == "webcam:5" and live.read(0) is not None
    live.close()
    assert camera.released


class Numbers(Source):
    """A plugin's stream: frames in order only."""

    name = "numbers://"

    def __iter__(self):
        for i in range(2):
            yield Frame(np.full((4, 4, 3), i, np.uint8), self.name, i)


def open_numbers(spec, **options):
    return Numbers() if spec == "numbers://two" else "not a source"


def test_open_seekable_asks_plugins_first():
    import types

    from visionkit.errors import PluginError
    from visionkit.hookspecs import hookimpl
    from visionkit.plugin_manager import plugins_added
    from visionkit.registry import SourceSpec
    from visionkit.sources import open_seekable

    @hookimpl
    def visionkit_register_sources(registry):
        registry.add(SourceSpec(name="numbers", summary="", prefixes=("numbers://",),
                                opener="tests.test_sources:open_numbers"))

    plugin = types.SimpleNamespace(visionkit_register_sources=visionkit_register_sources)
    with plugins_added(("numbers", plugin)):
        source = open_seekable("numbers://two")
        assert isinstance(source, Numbers) and not source.seekable and source.kind == "stream"
        assert [source.read(0).index, source.read(0).index, source.read(0)] == [0, 1, None]
        with pytest.raises(PluginError, match="returned str, not a visionkit.sources.Source"):
            open_seekable("numbers://other")


def test_a_network_stream_is_read_live_by_its_url():
    from visionkit.sources import open_builtin

    camera = GatedCamera()
    opened = []
    with CameraSource("rtsp://cam.local/live", capture_factory=lambda url: opened.append(url) or camera) as source:
        assert source.live and source.name == "rtsp://cam.local/live" and opened == ["rtsp://cam.local/live"]
        frames = iter(source)
        camera.allow(1)
        assert next(frames).source == "rtsp://cam.local/live"
    with pytest.raises(InputError, match="remote images are not fetched"):
        open_builtin("https://example.com/photos/cat.JPG?size=large")
    with pytest.raises(InputError, match=r"rtsp://127\.0\.0\.1:9/x: cannot open the stream"):
        open_builtin("rtsp://127.0.0.1:9/x")  # nothing listens on the loopback's port 9
