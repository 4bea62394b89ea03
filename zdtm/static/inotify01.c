/*
 * inotify00 with its watches in /tmp: in the ct flavor that is the
 * container's own tmpfs, which criu reaches through the container's
 * root, not its own, and which restore makes anew (new inode numbers).
 */
#define INOTIFY_DIR "/tmp/zdtm-inotify01.dir"
const char *test_doc = "An inotify file keeps its watches (path, mask, watch descriptor) and O_NONBLOCK, "
		       "on files in /tmp (a container's own tmpfs in the ct flavor)";
#include "inotify00.c"
