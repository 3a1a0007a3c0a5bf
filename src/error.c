/*
 * error.c: return codes and the version.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "tally-int.h"

const char *
tally_version(int *major, int *minor, int *patch)
{
	if (major != NULL)
		*major = TALLY_VERSION_MAJOR;
	if (minor != NULL)
		*minor = TALLY_VERSION_MINOR;
	if (patch != NULL)
		*patch = TALLY_VERSION_PATCH;
	return "tally " TALLY_VERSION_STRING;
}

const char *
tally_strerror(int err)
{
	switch (err) {
	case TALLY_OK:
		return "success";
	case TALLY_EINVAL:
		return "invalid argument";
	case TALLY_ENOMEM:
		return "out of memory";
	case TALLY_ENOTCONFIGURED:
		return "no statsfile or gatherer furl configured";
	case TALLY_ESTATE:
		return "not valid in the provider's current state";
	case TALLY_ESYS:
		return "system call failed";
	case TALLY_ESTORE:
		return "statsfile (LMDB environment) error";
	case TALLY_EFORMAT:
		return "unknown database format";
	case TALLY_ENOTFOUND:
		return "not found";
	case TALLY_EFORK:
		return "environment used in a child process after fork";
	case TALLY_EPRODUCER:
		return "a producer returned an error";
	case TALLY_ELIMIT:
		return "limit reached";
	}
	return "unknown tally error";
}

int
error_set(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list	 ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}
