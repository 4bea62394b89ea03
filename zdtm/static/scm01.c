#define SCM_TYPE SOCK_DGRAM
#define SCM_CLOSE 0
#define SCM_MANY 0
const char *test_doc = "a file passed in queued datagrams (SCM_RIGHTS) comes back with them";
#include "scm.inc"
