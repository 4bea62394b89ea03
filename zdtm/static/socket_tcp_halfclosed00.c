#define FAMILY AF_INET
#include "socket_tcp_halfclosed.inc"
