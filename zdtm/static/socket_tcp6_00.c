#define FAMILY AF_INET6
#include "socket_tcp.inc"
