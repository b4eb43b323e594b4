// CRC-32C (Castagnoli), the checksum of every QSM packet. Uses the SSE4.2 crc32 instruction when
// the CPU has it (about 8 bytes per cycle), else a table (about 1 byte per cycle). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace qsm::wire {

// Extends `crc` (0 to start) over `data`.
uint32_t Crc32c(uint32_t crc, std::span<const std::byte> data);

}  // namespace qsm::wire
