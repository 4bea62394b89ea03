#include "stopped.inc"
