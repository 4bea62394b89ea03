/* pidfd_dead00, also checking the exit status pidfs keeps of each dead
 * child (PIDFD_GET_INFO, PIDFD_INFO_EXIT: Linux 6.15). */
#define PIDFD_DEAD_EXIT
const char *test_doc = "pidfds of children that have exited and been reaped keep the exit status "
		       "PIDFD_GET_INFO reports (an exit code, a signal), besides all pidfd_dead00 checks";
#include "pidfd_dead00.c"
