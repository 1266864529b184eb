/* The free-block index both segregated-fit pools use (core/binmap.h). */
#include <criterion/criterion.h>
#include "binmap.h"

static const binmap_shape_t tlsf_like = { 6, 17, 3 };

Test(binmap, a_size_maps_to_its_power_of_two_and_eighth) {
  unsigned fl, sl;
  binmap_bin(&tlsf_like, 64, &fl, &sl);
  cr_assert(fl == 0 && sl == 0);
  binmap_bin(&tlsf_like, 100 * 1024, &fl, &sl);   /* 2^16 + 9/16 of it: (10, 4) */
  cr_assert(fl == 10 && sl == 4, "%u %u", fl, sl);
  binmap_bin(&tlsf_like, (size_t)1 << 40, &fl, &sl);
  cr_assert_eq(fl, 16, "sizes past the last level share it");
}

Test(binmap, finds_the_first_bin_at_or_above_and_forgets_emptied_ones) {
  binmap_t m = { 0 };
  unsigned fl = 3, sl = 2;
  cr_assert_not(binmap_find(&m, &tlsf_like, &fl, &sl), "empty");
  binmap_set(&m, 3, 5);
  binmap_set(&m, 9, 1);
  fl = 3, sl = 2;
  cr_assert(binmap_find(&m, &tlsf_like, &fl, &sl) && fl == 3 && sl == 5, "same level, a later bin");
  fl = 3, sl = 6;
  cr_assert(binmap_find(&m, &tlsf_like, &fl, &sl) && fl == 9 && sl == 1, "a higher level's first bin");
  binmap_clear(&m, 9, 1);
  fl = 3, sl = 6;
  cr_assert_not(binmap_find(&m, &tlsf_like, &fl, &sl), "the emptied bin is forgotten");
  fl = 3, sl = 8;   /* one past the level's last bin */
  binmap_set(&m, 4, 0);
  cr_assert(binmap_find(&m, &tlsf_like, &fl, &sl) && fl == 4 && sl == 0);
}
