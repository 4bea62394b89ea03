#define SCM_TYPE SOCK_STREAM
#define SCM_CLOSE 0
#define SCM_MANY 0
const char *test_doc = "a file passed over a stream UNIX socket (SCM_RIGHTS), queued: received after restore with its offset, twice in two messages";
#include "scm.inc"
