"""The machine's compute peaks per dtype, which ``pct_peak`` divides by.

Theoretical, from the CPU's own features: ``peak = cores in use x clock x ops per cycle per core``, with

- float32: ``units x (vector bits / 32) x 2`` (a fused multiply-add is two FLOPs), ``units = 2`` vector FMA pipes
  per core (every x86 core since Haswell and Zen, Arm Neoverse; no CPUID leaf reports it, so it is assumed);
- float64: half the float32 rate (half the lanes per vector);
- int8: ``units x (vector bits / 8) x 2``: one 8-bit multiply-accumulate per byte lane per pipe per cycle (VNNI's
  ``vpdpbusd``; without VNNI, ``vpmaddubsw`` forms as many products per instruction, so this is still an upper
  bound); with AMX (``amx_int8``: Intel Sapphire Rapids on), the tile unit's 1,024 int8 multiply-accumulates per
  cycle per core, 2,048 ops (Intel's figure; XNNPACK's int8 GEMM uses it);
- vector bits: 512 with AVX-512 (AMD Zen 4 runs 512-bit operations as two 256-bit halves: 256), 256 with AVX2,
  128 otherwise (SSE, Neon);
- clock: ``cpuinfo_max_freq`` where the kernel exposes it, else the largest ``cpu MHz`` of ``/proc/cpuinfo``
  (in a virtual machine often the base clock: boost can exceed it).

Measured: the best GEMM per dtype on the lanes' own runtime at the run's thread count (:mod:`tfparity.probes`),
not a BLAS whose kernel choice the environment can pin (``OPENBLAS_CORETYPE``). The peak a record is judged
against is the larger of the two, so no kernel can exceed 100 % through an underestimated clock; which of the two
it is stays in the run header (``peaks``).
"""

from __future__ import annotations

import os
from pathlib import Path

from tfparity import machine

FMA_UNITS = 2
AMX_INT8_OPS = 2048  # int8 ops per cycle per core of an AMX tile unit (1,024 multiply-accumulates)
DTYPES = ("float32", "float64", "int8")


def _max_freq_ghz() -> float | None:
    try:
        return int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text()) / 1e6
    except (OSError, ValueError):
        return None


def features() -> dict:
    """Vector width, FMA, VNNI and AMX support and clock of this CPU, as :func:`theoretical` uses them."""
    info = machine.cpuinfo()
    flags = machine.flags(info)
    zen4 = info.get("vendor_id") == "AuthenticAMD" and info.get("cpu family") == "25"
    bits = 512 if "avx512f" in flags and not zen4 else 256 if "avx2" in flags or "avx512f" in flags else 128
    clock = _max_freq_ghz() or (max(info["mhz"]) / 1000 if info["mhz"] else None)
    return {"vector_bits": bits, "fma": bool(flags & {"fma", "asimd", "fphp"}) or bits == 512,
            "vnni": bool(flags & {"avx512_vnni", "avx_vnni", "asimddp"}), "amx": "amx_int8" in flags,
            "clock_ghz": clock,
            "clock_source": "cpuinfo_max_freq" if _max_freq_ghz() else "cpu MHz"}


def per_cycle(found: dict) -> dict[str, float]:
    """Operations per cycle per core, by dtype (module docstring)."""
    lanes32 = found["vector_bits"] / 32
    float32 = FMA_UNITS * lanes32 * (2 if found["fma"] else 1)
    int8 = AMX_INT8_OPS if found.get("amx") else FMA_UNITS * found["vector_bits"] / 8 * 2
    return {"float32": float32, "float64": float32 / 2, "int8": int8}


def theoretical(threads: int) -> dict[str, dict]:
    """Per dtype: the theoretical peak in G(FL)OP/s at ``min(threads, cores)`` cores, and what it is made of."""
    found, cores = features(), min(threads, os.cpu_count() or 1)
    out = {}
    for dtype, ops in per_cycle(found).items():
        gops = cores * found["clock_ghz"] * ops if found["clock_ghz"] else None
        out[dtype] = {"theoretical": gops, "ops_per_cycle_per_core": ops, "cores": cores, **found}
    return out


def combine(theory: dict[str, dict], gemm: dict[str, dict]) -> dict[str, dict]:
    """Per dtype: the theoretical figures, the measured GEMM (``gemm``: G(FL)OP/s and what ran it) and ``peak``, the
    larger of the two (``source`` names which)."""
    out = {}
    for dtype, entry in theory.items():
        measured = gemm.get(dtype, {})
        candidates = {"theoretical": entry["theoretical"], "gemm": measured.get("gops")}
        source = max((k for k, v in candidates.items() if v), key=lambda k: candidates[k], default=None)
        out[dtype] = {**entry, "gemm": measured or None, "peak": candidates[source] if source else None,
                      "source": source}
    return out
