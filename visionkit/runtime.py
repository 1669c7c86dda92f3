"""onnxruntime sessions: device choice, one cached session per model file, clear load errors.

``device="auto"`` asks for CUDA only when its libraries really load: onnxruntime-gpu lists
the CUDA provider everywhere and prints a page of errors when it is asked for one whose
libraries are missing, so we probe quietly first. The provider a session really got
(``session.get_providers()[0]``) is what results report.

Thread pools: every session has its own intra-op pool, whose idle workers spin (busy-wait)
after each run by onnxruntime's default. A pipeline runs several sessions in turn (backbone,
heads, their parts), so the pools of the sessions not running spin on the cores the running
one, the decoder and the Python between them need. visionkit therefore opens every session
with spinning off (``session.intra_op.allow_spinning=0``: idle workers sleep at once) unless
asked otherwise: ``load_model(..., spinning=True)``, ``Pipeline(..., spinning=True)``.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Literal

import numpy as np
import onnxruntime as ort

from .cards import (ModelCard, card_from_metadata, check_against_inputs, read_card_file, read_sidecar,
                    sidecar_path)
from .errors import CardError, ModelError, UsageError

Device = Literal["auto", "cpu", "cuda"]
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
_NP_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}

#: the spinning of a session when nobody says: off. Measured on 2 cores (README, Benchmarks):
#: pipelines of several sessions ran 1.5-2.3x the frames per second so, and 2.7-3x with another
#: process busy; one session alone ran 20-30 % faster with spinning on an idle machine, and
#: 20-50 % slower as soon as another process wanted a core.
DEFAULT_SPINNING = False


@lru_cache(maxsize=1)
def cuda_status() -> tuple[bool, str]:
    """Whether onnxruntime's CUDA provider can really load here, and why not if it can't."""
    if CUDA not in ort.get_available_providers():
        return False, "this onnxruntime build has no CUDA provider (install onnxruntime-gpu)"
    capi = Path(ort.__file__).parent / "capi"
    if sys.platform.startswith("linux"):
        shared, cuda = capi / "libonnxruntime_providers_shared.so", capi / "libonnxruntime_providers_cuda.so"
    elif sys.platform == "win32":
        shared, cuda = capi / "onnxruntime_providers_shared.dll", capi / "onnxruntime_providers_cuda.dll"
    else:
        return False, f"CUDA is not supported on {sys.platform}"
    _preload_nvidia_wheels()
    try:
        ctypes.CDLL(str(shared), mode=getattr(ctypes, "RTLD_GLOBAL", 0))
        ctypes.CDLL(str(cuda))
    except OSError as exc:
        missing = str(exc).split(":")[0]
        return False, f"CUDA libraries not found ({missing})"
    return True, "CUDA libraries load"


def _preload_nvidia_wheels() -> None:
    """Load CUDA/cuDNN from pip's nvidia-* wheels, when they are installed (torch brings them)."""
    preload = getattr(ort, "preload_dlls", None)
    nvidia = [Path(p) / "nvidia" for p in sys.path if p and (Path(p) / "nvidia").is_dir()]
    if preload is None or not nvidia:
        return
    # preload_dlls prints every library it misses; it is only worth asking when the wheels exist
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            preload()
        except Exception:  # best effort: the CDLL probe that follows gives the real answer
            pass


def providers_for(device: Device) -> list[str]:
    if device == "cpu":
        return [CPU]
    ok, why = cuda_status()
    if device == "cuda":
        if not ok:
            raise UsageError(f"--device cuda: {why}")
        return [CUDA, CPU]
    if device == "auto":
        return [CUDA, CPU] if ok else [CPU]
    raise UsageError(f"device must be auto, cpu or cuda, not {device!r}")


def short_provider(provider: str) -> str:
    """``CUDAExecutionProvider`` -> ``CUDA`` for status lines."""
    return provider.removesuffix("ExecutionProvider")


@dataclass(frozen=True)
class ModelInput:
    name: str
    shape: tuple
    type: str  # onnxruntime type string, e.g. "tensor(float)"

    @property
    def numpy_dtype(self):
        return _NP_TYPES.get(self.type, np.float32)


class OnnxModel:
    """One loaded model: its session, its card, and what it takes and gives."""

    def __init__(self, path: Path, session: ort.InferenceSession, card: ModelCard,
                 device: Device = "auto", threads: int | None = None,
                 spinning: bool = DEFAULT_SPINNING) -> None:
        self.path = path
        self.device = device  # as asked; ``provider`` is what the session really got
        self.threads = threads
        #: whether the session's idle pool workers busy-wait (onnxruntime's default) or sleep
        self.spinning = spinning
        self.session = session
        self.card = card
        self.inputs = [ModelInput(i.name, tuple(i.shape), i.type) for i in session.get_inputs()]
        self.outputs = [o.name for o in session.get_outputs()]
        self.provider = session.get_providers()[0]

    @property
    def name(self) -> str:
        return self.card.name or self.path.stem

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        try:
            return self.session.run(None, feeds)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{self.path.name}: inference failed: {_first_line(exc)}") from exc

    def __repr__(self) -> str:
        return f"OnnxModel({self.path.name!r}, task={self.card.task!r}, provider={self.provider!r})"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _explain_load_failure(path: Path, exc: BaseException) -> str:
    text = str(exc)
    with open(path, "rb") as fh:
        head = fh.read(512).lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
        return f"{path.name}: not an ONNX model, it is an HTML/XML page (a failed download?)"
    if "is not a registered function/op" in text or "No opset import for domain" in text:
        op = text.split("Fatal error:")[-1].split(" is not a registered")[0].strip()
        return (f"{path.name}: needs custom operator {op}, which onnxruntime does not provide "
                "(install the library that defines it, e.g. onnxruntime-extensions)")
    if "INVALID_PROTOBUF" in text or "Protobuf parsing failed" in text:
        return f"{path.name}: not an ONNX model (protobuf parsing failed)"
    return f"{path.name}: onnxruntime cannot load it: {_first_line(exc)}"


def read_card(path: Path, session: ort.InferenceSession, card_path: str | Path | None = None) -> ModelCard:
    """The card for a model: explicit file, then sidecar, then the one embedded in the ONNX."""
    if card_path is not None:
        return read_card_file(card_path)
    card = read_sidecar(path)
    if card is None:
        card = card_from_metadata(session.get_modelmeta().custom_metadata_map, origin=path.name)
    if card is None:
        raise CardError(
            f"{path.name}: no model card; describe its input with "
            f"`visionkit models card {path} --task TASK --labels FILE ...`"
        )
    return card


def session_options(threads: int | None = None, spinning: bool | None = None) -> ort.SessionOptions:
    """visionkit's options for a session: ``threads`` intra-op threads (None: onnxruntime's
    choice, one per core) and whether idle workers spin (None: onnxruntime's own default,
    which spins)."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: warnings about unused initialisers are noise
    if threads:
        options.intra_op_num_threads = int(threads)
    if spinning is not None:
        flag = "1" if spinning else "0"
        options.add_session_config_entry("session.intra_op.allow_spinning", flag)
        options.add_session_config_entry("session.inter_op.allow_spinning", flag)
    return options


def open_session(path: Path, providers: list[str], threads: int | None = None,
                 spinning: bool | None = None) -> ort.InferenceSession:
    """A bare session, with load failures turned into one-line ModelErrors."""
    options = session_options(threads, spinning)
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime's own exception types; map to one line
        raise ModelError(_explain_load_failure(path, exc)) from exc


#: the spinning a load_model(spinning=None) gets: set by a pipeline while it builds its tasks,
#: so the parts a task loads (a detector's box head) get the pipeline's setting
_spinning: ContextVar[bool | None] = ContextVar("visionkit_spinning", default=None)


@contextmanager
def default_spinning(spinning: bool | None) -> Iterator[None]:
    """Within it, ``load_model(..., spinning=None)`` opens sessions with this spinning."""
    token = _spinning.set(spinning)
    try:
        yield
    finally:
        _spinning.reset(token)


def resolve_spinning(spinning: bool | None = None) -> bool:
    """The spinning a session asked for with ``spinning`` gets: itself, else the
    :func:`default_spinning` in force, else :data:`DEFAULT_SPINNING`."""
    if spinning is None:
        spinning = _spinning.get()
    return DEFAULT_SPINNING if spinning is None else bool(spinning)


_models: dict[tuple, OnnxModel] = {}
_sessions: dict[tuple, ort.InferenceSession] = {}
_lock = threading.Lock()


def _stamp(path: Path) -> tuple[int, int] | None:
    """(modification time, size) of a file, or None where there is none: a cache key part."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def load_model(
    path: str | Path,
    *,
    device: Device = "auto",
    threads: int | None = None,
    card: str | Path | None = None,
    spinning: bool | None = None,
) -> OnnxModel:
    """Load (or reuse) the session for a model file, with its card checked against its inputs.

    ``spinning``: whether the session's idle thread-pool workers busy-wait between runs
    (None: the :func:`default_spinning` in force, else :data:`DEFAULT_SPINNING`, off).

    A model is reused while the path it was named by, the file, its card (the explicit card
    file or the sidecar beside that path), the device, the threads and the spinning stay the
    same; so a model reached through a link with a sidecar of its own gets that sidecar's
    card, and an edited sidecar takes effect at the next load. Models whose paths lead to the
    same file share one onnxruntime session.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise ModelError(f"{path}: no such model file")
    st = p.stat()
    if st.st_size == 0:
        raise ModelError(f"{p.name}: empty file")
    card_file = Path(card).absolute() if card is not None else sidecar_path(p.absolute())
    spin = resolve_spinning(spinning)
    file_key = (str(p.resolve()), st.st_mtime_ns, st.st_size, device, threads, spin)
    key = (str(p.absolute()), *file_key, str(card_file), _stamp(card_file))
    with _lock:
        cached = _models.get(key)
        session = _sessions.get(file_key)
    if cached is not None:
        return cached

    if session is None:
        session = open_session(p, providers_for(device), threads, spin)
    model_card = read_card(p, session, card)
    model = OnnxModel(p, session, model_card, device, threads, spin)
    check_against_inputs(model_card, [(i.name, list(i.shape), i.type) for i in model.inputs], p.name)
    with _lock:
        _sessions[file_key] = session
        _models[key] = model
    return model


def clear_cache() -> None:
    with _lock:
        _models.clear()
        _sessions.clear()


def feature_feeds(model: OnnxModel, features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Feed a head its feature maps by input name; a missing one is a clear error."""
    feeds = {}
    for inp in model.inputs:
        if inp.name not in features:
            raise ModelError(
                f"{model.path.name}: head needs feature {inp.name!r}, backbone gives {sorted(features)}"
            )
        feeds[inp.name] = features[inp.name]
    return feeds

