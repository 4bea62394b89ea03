#define SCM_TYPE SOCK_STREAM
#define SCM_CLOSE 1
#define SCM_MANY 0
const char *test_doc = "a file passed over a stream socket and closed by the sender: it exists only in flight";
#include "scm.inc"
