/*
 * fuzzer.c: what the libFuzzer targets share (see fuzzer.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzzer.h"

void
fuzzer_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, what);
	abort();
}
