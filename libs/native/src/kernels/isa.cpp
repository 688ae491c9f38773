// Run-time choice of the SIMD path, and the serial ParallelFor used by tests.
#include "kernels.h"
#include "kernels_internal.h"

#include <atomic>

#if defined(CAIRN_X86)
#include <cpuid.h>
#endif

namespace cairn {

ParallelFor serial_for() {
  return [](int64_t n, int64_t, const std::function<void(int64_t, int64_t)>& body) {
    if (n > 0) body(0, n);
  };
}

#if defined(CAIRN_X86)
static uint64_t read_xcr0() {
  uint32_t lo, hi;
  // xgetbv with ecx=0; encoded as bytes so no -mxsave flag is needed.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}
#endif

static Isa probe_isa() {
#if defined(CAIRN_X86)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return Isa::Portable;
  const bool osxsave = c & (1u << 27), avx = c & (1u << 28), fma = c & (1u << 12);
  if (!osxsave || !avx) return Isa::Portable;
  const uint64_t xcr0 = read_xcr0();
  if ((xcr0 & 0x6) != 0x6) return Isa::Portable;  // OS saves XMM and YMM state
  if (__get_cpuid_max(0, nullptr) < 7) return Isa::Portable;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & (1u << 5), avx512f = b & (1u << 16);
  // opmask, upper ZMM0-15 and ZMM16-31 state
  if (avx512f && fma && avx2 && (xcr0 & 0xe6) == 0xe6) return Isa::Avx512;
  if (avx2 && fma) return Isa::Avx2;
#endif
  return Isa::Portable;
}

Isa detect_isa() {
  static const Isa detected = probe_isa();
  return detected;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "portable";
  }
}

static std::atomic<int> forced{int(Isa::Avx512)};

void force_isa(Isa isa) { forced.store(int(isa)); }

Isa active_isa() {
  const int d = int(detect_isa()), f = forced.load(std::memory_order_relaxed);
  return Isa(f < d ? f : d);
}

}  // namespace cairn
