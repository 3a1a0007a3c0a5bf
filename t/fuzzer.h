/*
 * fuzzer.h: what the libFuzzer targets (t/fuzz_*.c) share, compiled once in
 * fuzzer.c and linked into each.
 */
#ifndef FUZZER_H
#define FUZZER_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry point, which each target defines. */
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* An invariant of the target: when it does not hold, fuzzer_fail. */
#define FUZZ_CHECK(c) do {						\
	if (!(c))							\
		fuzzer_fail(__FILE__, __LINE__, #c);			\
} while (0)

/* Say which invariant failed, where, and abort: libFuzzer keeps the input. */
void	 fuzzer_fail(const char *file, int line, const char *what)
	    __attribute__((__noreturn__));

#endif /* FUZZER_H */
