#!/usr/bin/env python3
"""Print Requires-Dist of staged wheels (.gpu-stage, .gpu-stage-sgl) unmet by image + staged sets.

Later stages shadow earlier ones (PYTHONPATH=/tmp/site-sgl:/tmp/site), so each name resolves to the
first of: .gpu-stage-sgl, .gpu-stage, the GPU image (IMAGE below). Usage: python3 scripts/check_pins.py
"""
import pathlib
import re
import sys
import zipfile

from packaging.requirements import Requirement
from packaging.version import Version

#: the GPU host's preinstalled packages (versions where known; None: present, version unknown)
IMAGE = {"torch": "2.11.0", "torchvision": "0.26.0", "torchaudio": "2.11.0", "transformers": "5.17.0",
         "tokenizers": "0.23.2", "safetensors": "0.8.0", "huggingface-hub": "1.33.0", "triton": "3.6.0",
         "numpy": "2.5.2", "tiktoken": "0.14.0", "numba": None, "aiohttp": None, "pandas": None,
         "scipy": None, "seaborn": None, "sentencepiece": None, "accelerate": None, "requests": None,
         "pillow": None, "psutil": None, "pyyaml": None, "packaging": None, "tqdm": None, "regex": None,
         "filelock": None, "typing-extensions": None, "prometheus-client": None, "protobuf": None,
         "jinja2": None, "httpx": None, "anyio": None, "idna": None, "certifi": None, "click": None,
         "typer": None, "fsspec": None, "six": None, "setuptools": None, "cloudpickle": None}
ENV = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
       "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython",
       "platform_python_implementation": "CPython", "os_name": "posix", "extra": ""}


def norm(name: str) -> str:
    """PEP 503 name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def metadata(path: pathlib.Path) -> tuple[str, str, list[str]] | None:
    """(name, version, Requires-Dist lines) of a wheel or slim zip; None for chunks."""
    try:
        with zipfile.ZipFile(path) as z:
            meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
            text = z.read(meta).decode()
    except (zipfile.BadZipFile, StopIteration):
        return None
    head = dict(ln.split(": ", 1) for ln in text.split("\n\n")[0].splitlines() if ": " in ln)
    reqs = [ln.split(": ", 1)[1] for ln in text.splitlines() if ln.startswith("Requires-Dist: ")]
    return head["Name"], head["Version"], reqs


def main() -> int:
    """Check every staged wheel's requirements; exit 1 if any is unmet."""
    have: dict[str, tuple[str | None, str]] = {n: (v, "image") for n, v in IMAGE.items()}
    stages = [pathlib.Path(".gpu-stage"), pathlib.Path(".gpu-stage-sgl")]
    wheels = []
    for stage in stages:
        for d in sorted(stage.glob("p*")):
            for f in sorted(d.iterdir()):
                if f.suffix == ".zip" and ".chunk" not in f.name or f.suffix == ".whl":
                    wheels.append((stage, f))
        for z in sorted({re.sub(r"\.chunk\d+$", "", c.name) for c in stage.glob("p*/*.chunk*")}):
            whole = pathlib.Path("/tmp") / z
            whole.write_bytes(b"".join(c.read_bytes() for c in sorted(stage.glob(f"p*/{z}.chunk*"))))
            wheels.append((stage, whole))
    metas = []
    for stage, f in wheels:
        m = metadata(f)
        if m:
            have[norm(m[0])] = (m[1], stage.name)  # later stage shadows
            metas.append((stage, m))
    bad = 0
    for stage, (name, ver, reqs) in metas:
        for line in reqs:
            r = Requirement(line)
            if r.marker and not r.marker.evaluate(ENV):
                continue
            got = have.get(norm(r.name))
            if got is None or (got[0] and r.specifier and not r.specifier.contains(Version(got[0]), prereleases=True)):
                bad += 1
                print(f"{stage.name}: {name} {ver} needs {line.split(';')[0]}: have {got or 'nothing'}")
    print(f"{len(metas)} wheels checked, {bad} unmet requirements")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
