/* epoll01, also checking that the targets are keyed by the fd numbers
 * they were added with, not by where the task holds them now (CRIU 4.2
 * adds them again by the latter: EPOLL_CTL_ADD of those gives EEXIST). */
#define EPOLL_KEYS
const char *test_doc = "An epoll keeps targets whose fd was closed or replaced after they were added, "
		       "keyed by the fd numbers they were added with (the fds holding them now can be added)";
#include "epoll01.c"
