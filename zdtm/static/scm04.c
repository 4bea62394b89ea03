#define SCM_TYPE SOCK_SEQPACKET
#define SCM_CLOSE 0
#define SCM_MANY 1
const char *test_doc = "several fds (file, pipe, socket, eventfd) in a queued seqpacket message, also held by the sender";
#include "scm.inc"
