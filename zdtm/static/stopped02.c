#define STOPPED_TKILL
#include "stopped.inc"
