/* A file deleted while open keeps its holes: a hole at the tail. */
#define _GNU_SOURCE
#define TEST_NAME "ghost_holes02"
#define LAYOUT "ddddhhhh"
const char *test_doc = "A file deleted while open keeps its holes (a hole at the tail)";
#include "ghost_holes.inc"
