/* nodelock.c: one live writer per node id (being written). */
