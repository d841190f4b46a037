// Process-wide allocator settings for long-running front ends (vatp serve, vatp batch).
#pragma once

namespace vatp {

// A server allocates and frees per-request KV caches of many sizes (megabytes each) for
// hours. glibc raises its mmap threshold after the first such frees, so later caches come
// from the heap, where fragmentation keeps freed memory resident and RSS creeps above the
// live set (seen in scripts/bench/soak_server.py). A fixed threshold keeps every block of
// 128 KiB or more in its own mapping, returned to the OS when it is freed. Call once at
// start; no-op where the C library is not glibc.
void keep_large_blocks_in_own_mappings();

}  // namespace vatp
