"""No NVML library, an NVML error, no visible GPU: the profile falls back to the CPU with a note."""
import pynvml
import pytest

from asr_dist.hardware.probe import probe
from helpers import run_cli


def test_no_nvml_library_here_gives_cpu_with_note():
    inv = probe({})
    assert inv.is_cpu_only and any("NVML" in n for n in inv.notes)


@pytest.mark.parametrize("failure", [pynvml.NVMLError_DriverNotLoaded, pynvml.NVMLError_Unknown,
                                     pynvml.NVMLError_NoPermission])
def test_nvml_error_at_init_gives_cpu_with_note(failure, monkeypatch):
    def broken_init(*_a, **_k):
        raise failure()

    monkeypatch.setattr(pynvml, "nvmlInit", broken_init)
    inv = probe({})
    assert inv.is_cpu_only and any("NVML" in n for n in inv.notes), inv.notes


def test_nvml_error_while_counting_devices(monkeypatch):
    monkeypatch.setattr(pynvml, "nvmlInit", lambda *a, **k: None)
    monkeypatch.setattr(pynvml, "nvmlShutdown", lambda *a, **k: None)

    def broken_count():
        raise pynvml.NVMLError_GpuIsLost()

    monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", broken_count)
    inv = probe({})
    assert inv.is_cpu_only and inv.notes


def test_cli_profile_with_empty_cuda_visible_devices():
    proc = run_cli("profile", env={"CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert "CPU" in proc.stdout
