"""What the CPU offers for low-precision matrix products, read once from /proc/cpuinfo (Linux; elsewhere: nothing).

int8 ONNX is fast only with VNNI/AMX-INT8 dot products, bfloat16 torch only with AVX512-BF16/AMX-BF16; elsewhere
both are emulated and slower than float32, so the backends that use them are chosen only where the flags are set.
"""

from __future__ import annotations

import functools

_VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@functools.cache
def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_vnni() -> bool:
    """Whether int8 dot products are fast here (x86 VNNI/AMX). Elsewhere int8 ONNX can be slower than fp32."""
    return bool(cpu_flags() & _VNNI_FLAGS)


def cpu_has_bf16() -> bool:
    """Whether bfloat16 matrix products are native here (AVX512-BF16/AMX): builds then embed passages in bf16."""
    return bool(cpu_flags() & _BF16_FLAGS)
