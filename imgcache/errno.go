package imgcache

import "syscall"

const syscallEMFILE = syscall.EMFILE
