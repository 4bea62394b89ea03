/* A file deleted while open keeps its holes: a hole in the middle. */
#define _GNU_SOURCE
#define TEST_NAME "ghost_holes00"
#define LAYOUT "dddhhhhddd"
const char *test_doc = "A file deleted while open keeps its holes (a hole in the middle)";
#include "ghost_holes.inc"
