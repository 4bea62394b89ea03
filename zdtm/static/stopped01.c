#define STOPPED_KILL
#include "stopped.inc"
