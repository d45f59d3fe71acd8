"""Which GPUs this process may see: CUDA_VISIBLE_DEVICES, read through torch or nvidia-smi."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

from pydantic import BaseModel


class GPU(BaseModel):
    index: int
    uuid: str
    name: str
    memory_total_mb: int | None = None
    memory_used_mb: int | None = None


class DeviceInfo(BaseModel):
    cuda_visible_devices: str | None
    gpus: list[GPU]
    source: str


def pin_gpu(gpu: str | None) -> None:
    """Set CUDA_VISIBLE_DEVICES (empty = no GPU); must run before any GPU library is imported."""
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu or ""


def _visible() -> list[str] | None:
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def _from_torch() -> list[GPU] | None:
    if "torch" not in sys.modules and importlib.util.find_spec("torch") is None:
        return None
    import torch

    if not torch.cuda.is_available():
        return []
    gpus = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        free, total = torch.cuda.mem_get_info(index)
        gpus.append(
            GPU(
                index=index,
                uuid=f"GPU-{props.uuid}",
                name=props.name,
                memory_total_mb=total // 2**20,
                memory_used_mb=(total - free) // 2**20,
            )
        )
    return gpus


def _from_nvidia_smi(visible: list[str] | None) -> list[GPU] | None:
    if shutil.which("nvidia-smi") is None:
        return None
    query = "index,uuid,name,memory.total,memory.used"
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    every = []
    for line in out.strip().splitlines():
        index, uuid, name, total, used = (part.strip() for part in line.split(","))
        every.append(
            GPU(index=int(index), uuid=uuid, name=name, memory_total_mb=int(total), memory_used_mb=int(used))
        )
    if visible is None:
        return every
    # nvidia-smi ignores CUDA_VISIBLE_DEVICES: keep what it names, in its order, renumbered from 0
    chosen = []
    for wanted in visible:
        for gpu in every:
            if wanted == str(gpu.index) or gpu.uuid.startswith(wanted):
                chosen.append(gpu.model_copy(update={"index": len(chosen)}))
    return chosen


def device_info() -> DeviceInfo:
    """The GPUs this process can use. torch is asked only where a GPU is pinned and torch exists."""
    visible = _visible()
    if visible == []:
        return DeviceInfo(cuda_visible_devices="", gpus=[], source="pinned to no GPU")
    gpus = _from_torch() if visible else None
    if gpus is not None:
        return DeviceInfo(
            cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"), gpus=gpus, source="torch"
        )
    smi = _from_nvidia_smi(visible)
    return DeviceInfo(
        cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
        gpus=smi or [],
        source="nvidia-smi" if smi is not None else "none found",
    )
