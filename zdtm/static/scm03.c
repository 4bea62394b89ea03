#define SCM_TYPE SOCK_DGRAM
#define SCM_CLOSE 1
#define SCM_MANY 1
const char *test_doc = "a file, a pipe end with data, a socket with data and an eventfd in one queued datagram, closed by the sender";
#include "scm.inc"
