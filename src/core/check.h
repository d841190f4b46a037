// Invariant checks. A failed VATP_CHECK is a bug in vatp, not bad input: it aborts
// with file:line. Input errors are returned as Status (status.h).
#pragma once

#include <cstdio>
#include <cstdlib>

#define VATP_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: VATP_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

#ifdef NDEBUG
#define VATP_DCHECK(cond) \
  do {                    \
  } while (0)
#else
#define VATP_DCHECK(cond) VATP_CHECK(cond)
#endif
