"""What the CPU offers for low-precision matrix products, read once from /proc/cpuinfo (Linux; elsewhere: nothing).

int8 ONNX is fastest with VNNI/AMX-INT8 dot products; AVX2 alone still runs it faster than float32 (onnxruntime's
u8s8 kernel, VPMADDUBSW) but sums pairs of products into 16 bits, which saturate unless the weights keep 7 bits
(measured on 2 AVX2 cores without VNNI: a query 15.9 → 9.9 ms p50, passages 9.6 → 14.1 /s; lowest cosine to float32
over 427 questions 0.9886 with 8-bit weights, 0.9933 with 7). bfloat16 torch is fast only with AVX512-BF16/AMX-BF16;
without them it is emulated (1.7 against 10.2 passages/s in float32 there), so it is chosen only where they are set.
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


def cpu_has_avx2() -> bool:
    """Whether onnxruntime's AVX2 int8 kernels run here (x86); without VNNI their weights must keep 7 bits."""
    return "avx2" in cpu_flags()


def int8_weight_bits() -> int:
    """The weight bits an int8 export made on this CPU keeps: 7 where AVX2 sums products without VNNI, else 8."""
    return 7 if cpu_has_avx2() and not cpu_has_vnni() else 8


def cpu_has_bf16() -> bool:
    """Whether bfloat16 matrix products are native here (AVX512-BF16/AMX): builds then embed passages in bf16."""
    return bool(cpu_flags() & _BF16_FLAGS)
