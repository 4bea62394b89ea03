#define STOPPED_KILL
#define STOPPED_TKILL
#include "stopped.inc"
