// QSM_CHECK: invariant violations abort with a message (STYLE rule 6). Never used for input that
// comes from the network or the user; those are counted and dropped, or returned as an Error.
#pragma once

#include <cstdio>
#include <cstdlib>

#define QSM_CHECK(cond, msg)                                                                          \
  do {                                                                                                \
    if (!(cond)) [[unlikely]] {                                                                       \
      std::fprintf(stderr, "%s:%d: invariant violated: %s (%s)\n", __FILE__, __LINE__, (msg), #cond); \
      std::abort();                                                                                   \
    }                                                                                                 \
  } while (0)
