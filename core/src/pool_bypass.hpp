// RINGO_POOL_BYPASS: defined under AddressSanitizer, where ringo's pools hand every block
// straight to the system allocator, so a use after free or a double free is reported
// instead of hidden in a free list.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define RINGO_POOL_BYPASS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RINGO_POOL_BYPASS 1
#endif
#endif
