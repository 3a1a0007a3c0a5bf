/* tls-server.c: the gatherer side of TLS (being written). */
