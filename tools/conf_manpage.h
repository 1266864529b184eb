/* conf_manpage.h — uma-preload.conf(5), written from the key table. */
#ifndef UMA_CONF_MANPAGE_H
#define UMA_CONF_MANPAGE_H
#include <stdio.h>

void write_conf_manpage(FILE *out);

#endif
