/* size_class.c — the size-class table behind sc_of()/sc_size() in internal.h.
 * 16-byte steps up to 128 B, then 8 classes per doubling up to 512 KiB, so a
 * request above 128 B wastes at most 1/8 of itself (docs/ARCHITECTURE.md). */
#include "internal.h"

const uint32_t sc_size_table[UMA_CLASS_COUNT] = {
  16, 32, 48, 64, 80, 96, 112, 128,
  144, 160, 176, 192, 208, 224, 240, 256,
  288, 320, 352, 384, 416, 448, 480, 512,
  576, 640, 704, 768, 832, 896, 960, 1024,
  1152, 1280, 1408, 1536, 1664, 1792, 1920, 2048,
  2304, 2560, 2816, 3072, 3328, 3584, 3840, 4096,
  4608, 5120, 5632, 6144, 6656, 7168, 7680, 8192,
  9216, 10240, 11264, 12288, 13312, 14336, 15360, 16384,
  18432, 20480, 22528, 24576, 26624, 28672, 30720, 32768,
  36864, 40960, 45056, 49152, 53248, 57344, 61440, 65536,
  73728, 81920, 90112, 98304, 106496, 114688, 122880, 131072,
  147456, 163840, 180224, 196608, 212992, 229376, 245760, 262144,
  294912, 327680, 360448, 393216, 425984, 458752, 491520, 524288,
};

/* sc_small_table[(size + 15) / 16] = the class of size, for size ≤ 1 KiB:
 * every size in a 16-byte step has the same class because classes up to
 * 1 KiB are multiples of 16. */
const uint8_t sc_small_table[65] = {
  0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  16, 16, 17, 17, 18, 18, 19, 19, 20, 20, 21, 21, 22, 22, 23, 23,
  24, 24, 24, 24, 25, 25, 25, 25, 26, 26, 26, 26, 27, 27, 27, 27,
  28, 28, 28, 28, 29, 29, 29, 29, 30, 30, 30, 30, 31, 31, 31, 31,
};

_Static_assert(UMA_SMALL_CLASSES == 56, "class 55 is the last 8 KiB class");
_Static_assert(UMA_MEDIUM_CLASSES == 80, "class 79 is the last 64 KiB class");
_Static_assert(sizeof sc_size_table / sizeof sc_size_table[0] == UMA_CLASS_COUNT, "one row per class");
_Static_assert(sizeof(uma_segment_t) <= UMA_SEG_HEADER_SIZE, "segment header fits before page 0's blocks");
_Static_assert(sizeof(uma_large_t) <= UMA_OS_PAGE, "large header fits in one page");
_Static_assert(sizeof(uma_page_t) == 128 && offsetof(uma_segment_t, pages) % 64 == 0, "hot page fields stay in one cache line");
