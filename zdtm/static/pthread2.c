#define NR_THREADS 2
#include "pthread_tls.inc"
