/* ct.h: the ct flavor's container setup, inside the library (ct.c). */
#ifndef ZDTM_CT_H
#define ZDTM_CT_H

void ct_enter(char **argv, int ready) __attribute__((noreturn));
int ct_resumed(void);

#endif
