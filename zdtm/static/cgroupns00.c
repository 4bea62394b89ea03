/*
 * cgroup00 in a cgroup namespace of its own, rooted at its own cgroups:
 * its paths in /proc/self/cgroup ("/" and "/sub" for the child) read
 * the same after restore only if restore made the namespace again at the
 * same cgroups.
 */
#define CGROUP_NS 1
const char *test_doc = "A task in a cgroup namespace of its own, rooted at its own cgroups (pids.max, memory limit), "
		       "with a child in a cgroup below: after restore both see the same paths from the same namespace root";
#include "cgroup00.c"
