#define NR_THREADS 8
#include "pthread_tls.inc"
