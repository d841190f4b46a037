#include "core/malloc_policy.h"

#include <cstdlib>  // any C library header defines __GLIBC__ (via <features.h>) for the check below

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace vatp {

void keep_large_blocks_in_own_mappings() {
#if defined(__GLIBC__)
  // Setting M_MMAP_THRESHOLD explicitly also turns off glibc's dynamic adjustment of it.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

}  // namespace vatp
