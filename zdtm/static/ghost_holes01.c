/* A file deleted while open keeps its holes: a hole at the head. */
#define _GNU_SOURCE
#define TEST_NAME "ghost_holes01"
#define LAYOUT "hhhhdddd"
const char *test_doc = "A file deleted while open keeps its holes (a hole at the head)";
#include "ghost_holes.inc"
