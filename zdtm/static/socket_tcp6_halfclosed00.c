#define FAMILY AF_INET6
#include "socket_tcp_halfclosed.inc"
